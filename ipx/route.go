package ipx

import "sync"

// Route is how to reach a network that is not directly connected: which
// link to send on and the node of the next router there.
type Route struct {
	Link    LinkID
	NextHop Node
	// Hops and Ticks are the route's metric (Ticks are 1/18 s).
	Hops, Ticks uint16
}

// RouteSource gives the Stack a next hop for networks it is not directly
// connected to. rip.Table implements it; StaticRoutes is a fixed table.
// LookupRoute is called on the send path and must not block or allocate.
type RouteSource interface {
	LookupRoute(n Network) (Route, bool)
}

// StaticRoutes is a RouteSource with routes set by hand. The zero value is
// an empty table ready to use.
type StaticRoutes struct {
	mu sync.RWMutex
	m  map[Network]Route
}

// Set adds or replaces the route to n.
func (s *StaticRoutes) Set(n Network, r Route) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = make(map[Network]Route)
	}
	s.m[n] = r
}

// Delete removes the route to n.
func (s *StaticRoutes) Delete(n Network) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, n)
}

// LookupRoute implements RouteSource. The default route
// (NetworkDefault), if set, answers for networks without their own.
func (s *StaticRoutes) LookupRoute(n Network) (Route, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if r, ok := s.m[n]; ok {
		return r, true
	}
	r, ok := s.m[NetworkDefault]
	return r, ok
}
