package main

import (
	"context"

	"github.com/ipxkit/ipxkit/examples/internal/linkflag"
	"github.com/ipxkit/ipxkit/ipx"
)

// openLink returns a Stack on the link o asks for and a function that
// closes everything.
func openLink(ctx context.Context, o *options) (*ipx.Stack, func(), error) {
	if o.link.Kind == linkflag.Demo {
		return openDemo(o)
	}
	s, err := o.link.Open(ctx, ipx.StackConfig{})
	if err != nil {
		return nil, nil, err
	}
	return s, func() { s.Close() }, nil
}
