package mirrortest

import "github.com/ipxkit/ipxkit/mirror"

// Kill powers s off for good, as a crashed machine: its links fall
// silent first, so that nothing it does while closing reaches the wire,
// then its server, stack and router close. Its nodes may be attached
// again: Restart brings a fresh server up in its place.
func (p *Pair) Kill(s *Server) {
	p.Crash(s)
	s.Server.Close()
	s.Stack.Close()
	s.Router.Close()
}

// Restart starts a fresh server in the place of s, which Kill stopped:
// the same name and nodes, a new stack and an empty engine, joining as
// secondary as a restarted server does. It replaces s in p.A or p.B and
// returns the new server.
func (p *Pair) Restart(s *Server) *Server {
	p.t.Helper()
	other := p.B
	if s == p.B {
		other = p.A
	}
	n := p.StartServer(s.Name, s.Node, other.Node, mirror.RoleSecondary)
	switch s {
	case p.A:
		p.A = n
	case p.B:
		p.B = n
	}
	return n
}

// Other returns the server of the pair that is not s.
func (p *Pair) Other(s *Server) *Server {
	if s == p.A {
		return p.B
	}
	return p.A
}
