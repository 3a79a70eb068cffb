//go:build race

package mirror_test

// simDefaultSeeds is how many seeds TestSimulation runs by default (and
// TestSimulationArbiter; TestSimulationPartitions an eighth). The
// race detector slows a seed several times over, so CI's -race run
// checks fewer to stay within its budget; -sim.seeds runs more.
const simDefaultSeeds = 50
