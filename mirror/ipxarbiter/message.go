package ipxarbiter

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/ipxkit/ipxkit/ipx"
)

// Wire format of a message, big-endian, in one IPX datagram:
//
//	0  'A' 'R'      magic
//	2  version      1
//	3  op           OpClaim, OpGranted or OpDenied
//	4  id           8 bytes, chosen by the claimant, echoed in the answer
//	12 network      the pair's internal network
//	16 epoch        claimed; in an answer the newest granted
//	20 name length  1 byte, at most MaxName
//	21 name         the claimant; in an answer the newest epoch's holder
//	.. MAC          the first MACLen bytes of HMAC-SHA-256 over the rest
const (
	Version = 1
	// MaxName is the longest server name.
	MaxName = 64
	// MACLen is the length of the truncated MAC ending each message.
	MACLen = 16
	// MinKeyLen is the shortest key accepted.
	MinKeyLen = 16
	headerLen = 21
	// MaxLen is the longest message.
	MaxLen = headerLen + MaxName + MACLen
)

// Op is what a message says.
type Op uint8

// Ops.
const (
	OpClaim   Op = 1 // a server asks for an epoch
	OpGranted Op = 2 // the arbiter granted it
	OpDenied  Op = 3 // the arbiter granted Epoch to Name before
)

func (o Op) String() string {
	switch o {
	case OpClaim:
		return "claim"
	case OpGranted:
		return "granted"
	case OpDenied:
		return "denied"
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// Errors, wrapped with detail; match them with errors.Is.
var (
	// ErrMalformed reports a message that does not decode.
	ErrMalformed = errors.New("ipxarbiter: malformed message")
	// ErrAuth reports a message whose MAC does not verify.
	ErrAuth = errors.New("ipxarbiter: authentication failed")
	// ErrBadConfig reports an unusable Config or ClientConfig.
	ErrBadConfig = errors.New("ipxarbiter: bad configuration")
)

// Message is one claim or answer.
type Message struct {
	Op      Op
	ID      uint64
	Network ipx.Network
	Epoch   uint32
	Name    string
}

// AppendBinary appends m's encoding, without a MAC, to b.
func (m *Message) AppendBinary(b []byte) ([]byte, error) {
	if len(m.Name) > MaxName {
		return b, fmt.Errorf("ipxarbiter: name of %d bytes, over %d: %w", len(m.Name), MaxName, ErrMalformed)
	}
	b = append(b, 'A', 'R', Version, byte(m.Op))
	b = binary.BigEndian.AppendUint64(b, m.ID)
	b = binary.BigEndian.AppendUint32(b, uint32(m.Network))
	b = binary.BigEndian.AppendUint32(b, m.Epoch)
	b = append(b, byte(len(m.Name)))
	return append(b, m.Name...), nil
}

// UnmarshalBinary decodes a message without a MAC. Name is copied.
func (m *Message) UnmarshalBinary(b []byte) error {
	if len(b) < headerLen {
		return fmt.Errorf("ipxarbiter: message of %d bytes: %w", len(b), ErrMalformed)
	}
	if b[0] != 'A' || b[1] != 'R' || b[2] != Version {
		return fmt.Errorf("ipxarbiter: magic %q version %d: %w", b[:2], b[2], ErrMalformed)
	}
	n := int(b[20])
	if n > MaxName || len(b) != headerLen+n {
		return fmt.Errorf("ipxarbiter: name of %d bytes in a message of %d: %w", n, len(b), ErrMalformed)
	}
	op := Op(b[3])
	if op < OpClaim || op > OpDenied {
		return fmt.Errorf("ipxarbiter: %v: %w", op, ErrMalformed)
	}
	*m = Message{Op: op, ID: binary.BigEndian.Uint64(b[4:]), Network: ipx.Network(binary.BigEndian.Uint32(b[12:])),
		Epoch: binary.BigEndian.Uint32(b[16:]), Name: string(b[headerLen:])}
	return nil
}

// seal appends m's encoding and its MAC under key to b.
func seal(b []byte, m *Message, key []byte) ([]byte, error) {
	start := len(b)
	b, err := m.AppendBinary(b)
	if err != nil {
		return b, err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write(b[start:])
	return mac.Sum(b)[:len(b)+MACLen], nil
}

// open checks b's MAC under key and decodes the message before it.
func open(m *Message, b []byte, key []byte) error {
	if len(b) < headerLen+MACLen {
		return fmt.Errorf("ipxarbiter: message of %d bytes: %w", len(b), ErrMalformed)
	}
	body, sum := b[:len(b)-MACLen], b[len(b)-MACLen:]
	mac := hmac.New(sha256.New, key)
	mac.Write(body)
	if !hmac.Equal(mac.Sum(nil)[:MACLen], sum) {
		return ErrAuth
	}
	return m.UnmarshalBinary(body)
}
