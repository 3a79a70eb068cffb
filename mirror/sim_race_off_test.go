//go:build !race

package mirror_test

// simDefaultSeeds is how many seeds TestSimulation runs by default;
// -sim.seeds runs more.
const simDefaultSeeds = 200
