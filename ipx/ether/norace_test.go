//go:build !race

package ether

const raceEnabled = false
