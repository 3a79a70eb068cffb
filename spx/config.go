package spx

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
)

// Defaults used for zero Config fields. The timers follow Novell's
// defaults: a keep-alive after about 3 s (54 ticks) of silence and an
// abort after about 30 s (540 ticks).
const (
	DefaultWindow         = 32
	DefaultRetryLimit     = 10
	DefaultInitialRTO     = 500 * time.Millisecond
	DefaultMinRTO         = 100 * time.Millisecond
	DefaultMaxRTO         = 5 * time.Second
	DefaultAckDelay       = 10 * time.Millisecond
	DefaultVerifyInterval = 3 * time.Second
	DefaultAbortTimeout   = 30 * time.Second
	DefaultBacklog        = 16
	DefaultLinger         = 30 * time.Second
	DefaultMaxConns       = 1024
)

// Config tunes connections made by Dial and accepted by Listen. The zero
// value gives the defaults above and SPX II with size negotiation.
type Config struct {
	// PlainSPX makes this end speak classic SPX only: it neither asks for
	// nor accepts SPX II, and keeps packets within 576 bytes.
	PlainSPX bool
	// NoSelectiveAcks makes this end neither announce nor use selective
	// acknowledgements, an extension used only between ipxkit SPX II
	// ends that both announce it (see the package doc), as a Novell
	// SPX II peer behaves.
	NoSelectiveAcks bool
	// MaxPacket caps the IPX packet size (header included) negotiated by
	// SPX II; 0 means the link's MTU. Values below 576 are raised to it.
	MaxPacket int
	// Window is the receive buffer and the send buffer, in packets; the
	// allocation number advertises what remains of the receive buffer,
	// and the congestion window never exceeds it. A path with a larger
	// bandwidth-delay product needs a larger one (the UDP tunnel, whose
	// acknowledgements cross two hops, runs fastest at about 256 on
	// loopback; memlan at 64).
	Window int
	// RetryLimit is how many retransmission timeouts one packet goes
	// through before the connection fails with ErrRetryLimit (as TCP
	// counts them). The quicker repairs between timeouts (on duplicate
	// acknowledgements, and tail probes) are capped at a few times as
	// many.
	RetryLimit int
	// InitialRTO is the retransmission timeout before the first round-trip
	// sample; MinRTO and MaxRTO bound the adaptive timeout.
	InitialRTO, MinRTO, MaxRTO time.Duration
	// AckDelay is how long a receiver may hold an acknowledgement that was
	// not asked for, hoping to piggyback it on data.
	AckDelay time.Duration
	// PiggybackAcks makes this end ask for an immediate acknowledgement
	// only when its send window closes (and on release and end packets),
	// not on the last packet of every burst. It suits a request/response
	// protocol whose peer answers at once (a mirrored pair's MSL): the
	// next request carries the acknowledgement of an answer, saving a
	// packet per exchange each way. An answer no request follows is
	// acknowledged within the peer's ack delay, so the tail loss probe
	// waits AckDelay more, taking the peer's to be no longer than ours.
	PiggybackAcks bool
	// VerifyInterval is the silence after which a keep-alive asking for an
	// acknowledgement is sent; AbortTimeout the silence after which the
	// connection fails with ErrPeerSilent.
	VerifyInterval, AbortTimeout time.Duration
	// Backlog bounds the connections a Listener holds before Accept; more
	// connection requests are dropped and counted.
	Backlog int
	// MaxConns bounds the connections a Listener holds at once, waiting
	// for Accept or accepted and not yet ended; more connection requests
	// are refused (dropped, as SPX has no refusal) and counted in
	// ListenerStats.Refused. It also bounds, separately, the connections
	// that linger after a clean end to answer the peer's retransmissions.
	// At most 65534 (the connection ids); 0 means DefaultMaxConns.
	MaxConns int
	// Linger bounds how long Close waits for the data written to be
	// acknowledged and the end of connection to be confirmed; past it the
	// connection is aborted, and Close returns an error wrapping
	// ErrNotDelivered if some data was still unacknowledged (but nil if
	// only the end of connection was). Zero means DefaultLinger; a
	// negative value makes
	// Close return at once, delivery going on in the background with
	// nobody told of its outcome.
	Linger time.Duration
	// Logger receives connection events at debug level; nil discards them.
	Logger *slog.Logger
}

// Validate reports whether the configuration is usable, after defaults;
// its errors wrap ErrBadConfig.
func (c *Config) Validate() error {
	d := *c
	d.setDefaults()
	switch {
	case d.Window < 1 || d.Window > 0x4000:
		return fmt.Errorf("spx: Window %d outside 1..16384: %w", d.Window, ErrBadConfig)
	case d.RetryLimit < 1:
		return fmt.Errorf("spx: RetryLimit %d below 1: %w", d.RetryLimit, ErrBadConfig)
	case d.MinRTO <= 0 || d.MaxRTO < d.MinRTO:
		return fmt.Errorf("spx: RTO bounds %v..%v: %w", d.MinRTO, d.MaxRTO, ErrBadConfig)
	case d.AbortTimeout <= d.VerifyInterval:
		return fmt.Errorf("spx: AbortTimeout %v not above VerifyInterval %v: %w", d.AbortTimeout, d.VerifyInterval, ErrBadConfig)
	case d.Backlog < 1:
		return fmt.Errorf("spx: Backlog %d below 1: %w", d.Backlog, ErrBadConfig)
	case d.MaxConns < 1 || d.MaxConns > 0xFFFE:
		return fmt.Errorf("spx: MaxConns %d outside 1..65534: %w", d.MaxConns, ErrBadConfig)
	case d.MaxPacket > 0xFFFF:
		return fmt.Errorf("spx: MaxPacket %d beyond the IPX length field: %w", d.MaxPacket, ErrBadConfig)
	}
	return nil
}

func (c *Config) setDefaults() {
	def := func(p *time.Duration, v time.Duration) {
		if *p <= 0 {
			*p = v
		}
	}
	if c.Window == 0 {
		c.Window = DefaultWindow
	}
	if c.RetryLimit == 0 {
		c.RetryLimit = DefaultRetryLimit
	}
	def(&c.InitialRTO, DefaultInitialRTO)
	def(&c.MinRTO, DefaultMinRTO)
	def(&c.MaxRTO, DefaultMaxRTO)
	def(&c.AckDelay, DefaultAckDelay)
	def(&c.VerifyInterval, DefaultVerifyInterval)
	def(&c.AbortTimeout, DefaultAbortTimeout)
	if c.Backlog == 0 {
		c.Backlog = DefaultBacklog
	}
	if c.MaxConns == 0 {
		c.MaxConns = DefaultMaxConns
	}
	if c.Linger == 0 {
		c.Linger = DefaultLinger
	}
	if c.MaxPacket != 0 && c.MaxPacket < ipx.MaxPacketLen {
		c.MaxPacket = ipx.MaxPacketLen
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}
