//go:build race

package ether

const raceEnabled = true
