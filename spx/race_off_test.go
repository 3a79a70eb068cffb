//go:build !race

package spx

// raceEnabled reports a -race build, where long tests run fewer rounds.
const raceEnabled = false
