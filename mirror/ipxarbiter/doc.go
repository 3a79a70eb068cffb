// Package ipxarbiter is the built-in arbiter of package mirror: a small
// service over IPX that grants each mirrored pair's epochs by the rule
// of mirror.Arbiter, so that even a full partition between the two
// servers cannot leave two primaries answering clients.
//
// Run a Server beside a router or on any host both servers reach (not on
// either server: the arbiter must outlive the one that fails), give it
// Config.Path so that it never grants an epoch twice across restarts,
// and give each mirror.Server a Client as Config.Arbiter. Every message
// carries an HMAC-SHA-256 under a key the arbiter and its clients share.
//
// The arbiter is consulted only when a server would otherwise answer
// without its peer: a primary that lost its secondary, a secondary
// taking over, a switchover. While the pair is mirrored it is not asked,
// and an unreachable arbiter costs nothing; but while it is unreachable
// neither server can go on alone, which is the price of never having
// two primaries.
package ipxarbiter
