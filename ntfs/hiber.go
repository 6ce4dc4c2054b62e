package ntfs

import (
	"bytes"
	"fmt"
)

// hiberfil.sys header.
//
// Windows writes its hibernation image (also used by Fast Startup, which
// hibernates the kernel session) to \hiberfil.sys. The first page of the
// file starts with a signature (libyal/libhibr documentation "Windows
// Hibernation File format"; ntfs-3g volume.c ntfs_volume_check_hiberfile):
//
//	"hibr", "HIBR"  a hibernation image waiting to be resumed (live)
//	"rstr", "RSTR"  a resume in progress (treated as live)
//	"wake", "WAKE"  the image was resumed; nothing is pending
//	all zeros       no image
//
// Writing to a volume whose hibernated session will be resumed corrupts it:
// the resumed kernel trusts its cached view of the file system. ntfs-3g
// refuses to mount read-write when the header starts with "hibr", and also
// when the file is shorter than one 4096-byte page.

// HiberHeaderSize is the size of the hiberfil.sys header page: the bytes a
// hibernation discard zeroes and the length below which the file is "short".
const HiberHeaderSize = 4096

// Hibernation states (HiberState.State).
const (
	HiberAbsent  = "absent"  // no hiberfil.sys in the root directory
	HiberNone    = "none"    // present, header zeroed: nothing to resume
	HiberResumed = "resumed" // "wake": the image was already resumed
	HiberLive    = "live"    // "hibr"/"HIBR"/"rstr"/"RSTR": a session waits to be resumed
	HiberShort   = "short"   // shorter than one page (ntfs-3g treats it as hibernated)
	HiberUnknown = "unknown" // a signature this package does not know
)

// HiberState describes \hiberfil.sys.
type HiberState struct {
	Present   bool   `json:"present"`
	Record    uint64 `json:"mft_record,omitempty"`
	Size      int64  `json:"size,omitempty"`
	Signature string `json:"signature,omitempty"` // first four bytes, printable or hex
	State     string `json:"state"`
}

// Live reports whether a hibernated session (or Fast Startup image) would be
// resumed, or the header is in a state this package will not guess about.
func (h HiberState) Live() bool {
	return h.State == HiberLive || h.State == HiberShort || h.State == HiberUnknown
}

// classifyHiberHeader decides the state from the file size and its first
// page (header may be shorter when the file is).
func classifyHiberHeader(header []byte, size int64) HiberState {
	h := HiberState{Present: true, Size: size}
	if len(header) >= 4 {
		h.Signature = printableSig(header[:4])
	}
	if size < HiberHeaderSize || len(header) < HiberHeaderSize {
		h.State = HiberShort
		return h
	}
	switch string(header[:4]) {
	case "hibr", "HIBR", "rstr", "RSTR":
		h.State = HiberLive
	case "wake", "WAKE":
		h.State = HiberResumed
	default:
		if hiberAllZero(header[:HiberHeaderSize]) {
			h.State = HiberNone
		} else {
			h.State = HiberUnknown
		}
	}
	return h
}

func hiberAllZero(b []byte) bool { return len(bytes.TrimLeft(b, "\x00")) == 0 }

func printableSig(b []byte) string {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return fmt.Sprintf("%x", b)
		}
	}
	return string(b)
}
