// Package serve is what the example programs share to answer Novell ping
// and advertise SAP services named on the command line, so that ipxping
// and slist have something to find on a real link:
//
//	-echo                  answer IPX ping on socket 9086 (ipx/echo)
//	-sap TYPE:NAME:SOCKET  advertise a service, e.g. 4:FS1:0451 (repeatable;
//	                       TYPE and SOCKET in hex)
package serve

import (
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"

	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/echo"
	"github.com/ipxkit/ipxkit/sap"
)

// ErrBadService reports a -sap value that is not TYPE:NAME:SOCKET.
var ErrBadService = errors.New("not TYPE:NAME:SOCKET (hex type and socket)")

// MaxServices bounds the -sap flags of one command line.
const MaxServices = 64

// Hops is the distance advertised for a service of this host, as NetWare
// servers advertise the services on their internal network.
const Hops = 1

// Flags are the services a command line asks for.
type Flags struct {
	// Echo answers Novell ping on echo.Socket.
	Echo bool
	// SAP are the services to advertise, at this host's address.
	SAP []sap.Entry
}

// Register adds -echo and the repeatable -sap to fs.
func (f *Flags) Register(fs *flag.FlagSet) {
	fs.BoolVar(&f.Echo, "echo", false, "answer Novell IPX ping (socket 9086)")
	fs.Func("sap", "advertise the service `TYPE:NAME:SOCKET` (hex type and socket, e.g. 4:FS1:0451; repeatable)", func(s string) error {
		if len(f.SAP) == MaxServices {
			return fmt.Errorf("at most %d services", MaxServices)
		}
		e, err := ParseService(s)
		if err != nil {
			return err
		}
		for _, old := range f.SAP {
			if old.Type == e.Type && old.Name == e.Name {
				return fmt.Errorf("%q: service %04x %s given twice", s, uint16(e.Type), e.Name)
			}
		}
		f.SAP = append(f.SAP, e)
		return nil
	})
}

// ParseService parses TYPE:NAME:SOCKET, the type and socket in hex (a
// name may hold colons), into an Entry at this host's address. Errors
// wrap ErrBadService or sap.ErrBadName.
func ParseService(s string) (sap.Entry, error) {
	typText, rest, ok1 := strings.Cut(s, ":")
	i := strings.LastIndexByte(rest, ':')
	if !ok1 || i < 0 {
		return sap.Entry{}, fmt.Errorf("%q: %w", s, ErrBadService)
	}
	nameText, sockText := rest[:i], rest[i+1:]
	typ, err := strconv.ParseUint(strings.TrimPrefix(typText, "0x"), 16, 16)
	if err != nil || typ == 0 || typ == 0xFFFF {
		return sap.Entry{}, fmt.Errorf("%q: type %q: %w", s, typText, ErrBadService)
	}
	sock, err := strconv.ParseUint(strings.TrimPrefix(sockText, "0x"), 16, 16)
	if err != nil || sock == 0 {
		return sap.Entry{}, fmt.Errorf("%q: socket %q: %w", s, sockText, ErrBadService)
	}
	name, err := sap.ParseName(nameText)
	if err != nil {
		return sap.Entry{}, fmt.Errorf("%q: %w", s, err)
	}
	return sap.Entry{Type: sap.ServiceType(typ), Name: name, Addr: ipx.Addr{Socket: ipx.Socket(sock)}, Hops: Hops}, nil
}

// Services answers ping and advertises services on a Stack.
type Services struct {
	adv  *sap.Advertiser
	echo *ipx.Conn
	done chan struct{}
}

// Start answers ping on st if f.Echo and, if f.SAP is not empty or
// always is set, runs a SAP Advertiser with cfg advertising them. A
// router sets always: its Advertiser also carries other hosts' services
// between its links. Close stops both.
func Start(st *ipx.Stack, f Flags, always bool, cfg sap.Config) (*Services, error) {
	s := &Services{done: make(chan struct{})}
	if f.Echo {
		c, err := st.Listen(echo.Socket)
		if err != nil {
			return nil, fmt.Errorf("-echo: %w", err)
		}
		s.echo = c
		go func() {
			defer close(s.done)
			echo.NewResponder(c).Serve()
		}()
	} else {
		close(s.done)
	}
	if len(f.SAP) > 0 || always {
		a, err := sap.NewAdvertiser(st, cfg)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("sap: %w", err)
		}
		s.adv = a
		for _, e := range f.SAP {
			if err := a.Add(e); err != nil {
				s.Close()
				return nil, fmt.Errorf("-sap %04x:%s: %w", uint16(e.Type), e.Name, err)
			}
		}
	}
	return s, nil
}

// Advertiser returns the SAP Advertiser, nil if none runs.
func (s *Services) Advertiser() *sap.Advertiser { return s.adv }

// Close withdraws the services and stops answering ping. It returns
// once the responder has stopped.
func (s *Services) Close() error {
	var err error
	if s.adv != nil {
		err = s.adv.Close()
	}
	if s.echo != nil {
		s.echo.Close()
	}
	<-s.done
	return err
}
