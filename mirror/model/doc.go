// Package model holds a Promela model of the mirror package's role
// protocol (roles.pml) and a test that checks it with spin; README.md maps
// the model to the code. The package has no Go API.
package model
