//go:build !race

package mirror_test

// simDefaultSeeds is how many seeds TestSimulation runs by default (and
// TestSimulationArbiter; TestSimulationPartitions an eighth);
// -sim.seeds runs more.
const simDefaultSeeds = 200
