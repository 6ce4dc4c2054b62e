package logfile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
)

// $LogFile restart pages.
//
// The journal ($LogFile, MFT record 2) starts with two restart pages, at
// offset 0 and at offset system_page_size (4096 in practice), each a
// multi-sector protected record with magic "RSTR" ("CHKD" after chkdsk). The
// more recent one (higher current LSN) describes the journal. Layout
// (ntfs-3g include/ntfs-3g/logfile.h; libfsntfs "Metadata file $LogFile"):
//
//	restart page header       restart area (at header+0x18)   log client record (0xA0 bytes)
//	0x00 magic "RSTR"/"CHKD"  0x00 current LSN                 0x00 oldest LSN
//	0x04 USA offset           0x08 log clients                 0x08 client restart LSN
//	0x06 USA count            0x0A client free list            0x10 previous client
//	0x08 chkdsk LSN           0x0C client in-use list          0x12 next client
//	0x10 system page size     0x0E flags (0x0002 clean)        0x14 sequence number
//	0x14 log page size        0x10 sequence number bits        0x1C name length (bytes)
//	0x18 restart area offset  0x14 restart area length         0x20 name, UTF-16 ("NTFS")
//	0x1A minor version        0x16 client array offset
//	0x1C major version        0x18 file size
//	0x1E USA                  0x24 log record header length
//	                          0x26 log page data offset
//
// Client list links are indexes into the client array; 0xFFFF means none.
// Version 1.1 is what Windows writes on a clean dismount (and before
// Windows 8); version 2.0 is written by Windows 8 and later while the
// volume is mounted and stays on disk after Fast Startup or an abrupt stop.
//
// Clean or not follows ntfs-3g (libntfs-3g/logfile.c ntfs_check_logfile,
// ntfs_is_logfile_clean; volume.c): a journal whose every probed page is
// 0xFF-filled is empty, hence clean. Otherwise the more recent valid restart
// page decides: version 2.0 is never clean (ntfs-3g: "Metadata kept in
// Windows cache, refused to mount"); version 1.1 is clean when no client is
// in use or the restart area's clean flag is set.

// Restart page layout.
const (
	NoClient           = 0xFFFF // client list terminator / "no client in use"
	RestartFlagClean   = 0x0002 // restart area flag: the volume was cleanly unmounted
	RestartHeaderSize  = 0x1E   // restart page header, before its USA
	restartAreaMinSize = 0x30
	ClientRecordSize   = 0xA0 // one log client record
	logMinPageSize     = 512
)

// RestartPage is one decoded $LogFile restart page.
type RestartPage struct {
	Offset         int64  `json:"offset"` // byte offset in $LogFile (0 or the system page size)
	Magic          string `json:"magic"`  // "RSTR" or "CHKD"
	MajorVersion   int16  `json:"major_version"`
	MinorVersion   int16  `json:"minor_version"`
	SystemPageSize uint32 `json:"system_page_size"`
	LogPageSize    uint32 `json:"log_page_size"`
	ChkdskLSN      uint64 `json:"chkdsk_lsn,omitempty"`
	CurrentLSN     uint64 `json:"current_lsn"`
	LogClients     uint16 `json:"log_clients"`
	ClientFree     uint16 `json:"client_free_list"`
	ClientInUse    uint16 `json:"client_in_use_list"`
	Flags          uint16 `json:"flags"`
	FileSize       int64  `json:"file_size"`
	OpenCount      uint32 `json:"restart_log_open_count"`
	// Clients are the names of the log clients in the in-use list ("NTFS").
	Clients []string `json:"clients_in_use,omitempty"`
}

// Version is "major.minor".
func (p *RestartPage) Version() string { return fmt.Sprintf("%d.%d", p.MajorVersion, p.MinorVersion) }

// LSN is the page's notion of "now": the current LSN, or the chkdsk LSN
// for a page chkdsk rewrote (ntfs-3g ntfs_check_and_load_restart_page).
func (p *RestartPage) LSN() uint64 {
	if p.Magic == "CHKD" {
		return p.ChkdskLSN
	}
	return p.CurrentLSN
}

// CleanFlag reports the restart area's RESTART_VOLUME_IS_CLEAN flag.
func (p *RestartPage) CleanFlag() bool { return p.Flags&RestartFlagClean != 0 }

// ClientsInUse reports whether the in-use client list is not empty (the
// journal was open).
func (p *RestartPage) ClientsInUse() bool { return p.ClientInUse != NoClient }

// ParseRestartPage decodes and validates the restart page page (the whole
// system page, as stored, with its update sequence protection) found at
// byte offset pos of $LogFile. It applies the consistency checks ntfs-3g
// applies before trusting a restart page; a page failing them is an error
// (*RestartPageError). page is not modified.
func ParseRestartPage(page []byte, pos int64) (*RestartPage, error) {
	bad := func(format string, a ...any) error {
		return &RestartPageError{Offset: pos, Reason: fmt.Sprintf(format, a...)}
	}
	if len(page) < logMinPageSize {
		return nil, bad("%d bytes is shorter than one 512-byte block", len(page))
	}
	magic := string(page[:4])
	if magic != "RSTR" && magic != "CHKD" {
		return nil, bad("magic %q is not RSTR or CHKD", page[:4])
	}
	p := &RestartPage{Offset: pos, Magic: magic}
	p.SystemPageSize = binary.LittleEndian.Uint32(page[0x10:])
	p.LogPageSize = binary.LittleEndian.Uint32(page[0x14:])
	if !pow2AtLeast(p.SystemPageSize, logMinPageSize) || !pow2AtLeast(p.LogPageSize, logMinPageSize) || p.SystemPageSize > 1<<16 {
		return nil, bad("page sizes %d/%d are not powers of two from 512 to 65536", p.SystemPageSize, p.LogPageSize)
	}
	if pos != 0 && pos != int64(p.SystemPageSize) {
		return nil, bad("restart page at offset %d: must be at 0 or at the system page size %d", pos, p.SystemPageSize)
	}
	p.MinorVersion = int16(binary.LittleEndian.Uint16(page[0x1A:]))
	p.MajorVersion = int16(binary.LittleEndian.Uint16(page[0x1C:]))
	if v := p.Version(); v != "1.1" && v != "2.0" {
		return nil, bad("$LogFile version %s is not supported (only 1.1 and 2.0 exist)", v)
	}
	usaOff := int(binary.LittleEndian.Uint16(page[4:]))
	usaCount := int(binary.LittleEndian.Uint16(page[6:]))
	haveUSA := !(magic == "CHKD" && usaCount == 0)
	usaEnd := 0
	if haveUSA {
		if want := 1 + int(p.SystemPageSize)/512; usaCount != want {
			return nil, bad("update sequence array count %d, want %d", usaCount, want)
		}
		usaEnd = usaOff + 2*usaCount
		if usaOff < RestartHeaderSize || usaEnd > 510 {
			return nil, bad("update sequence array offset %d is out of range", usaOff)
		}
	}
	raOff := int(binary.LittleEndian.Uint16(page[0x18:]))
	minRA := RestartHeaderSize
	if haveUSA {
		minRA = usaEnd
	}
	if raOff%8 != 0 || raOff < minRA || raOff > int(p.SystemPageSize) {
		return nil, bad("restart area offset %d is invalid", raOff)
	}
	p.ChkdskLSN = binary.LittleEndian.Uint64(page[8:])
	if magic == "RSTR" && p.ChkdskLSN != 0 {
		return nil, bad("chkdsk LSN set in a page chkdsk did not write")
	}
	// The restart area up to the client array must sit before the first
	// protected word (offset 510), so it can be checked from the first block.
	if raOff+0x18 > 510 || raOff+restartAreaMinSize > int(p.SystemPageSize) {
		return nil, bad("restart area at %d does not fit in the first 512-byte block", raOff)
	}
	if len(page) < int(p.SystemPageSize) {
		return nil, bad("only %d of the %d-byte restart page could be read", len(page), p.SystemPageSize)
	}
	full := append([]byte(nil), page[:p.SystemPageSize]...)
	var fixErr error
	if haveUSA {
		fixErr = UnprotectPage(full, usaOff, usaCount)
	}
	ra := full[raOff:]
	p.CurrentLSN = binary.LittleEndian.Uint64(ra[0:])
	p.LogClients = binary.LittleEndian.Uint16(ra[0x08:])
	p.ClientFree = binary.LittleEndian.Uint16(ra[0x0A:])
	p.ClientInUse = binary.LittleEndian.Uint16(ra[0x0C:])
	p.Flags = binary.LittleEndian.Uint16(ra[0x0E:])
	seqBits := binary.LittleEndian.Uint32(ra[0x10:])
	raLen := int(binary.LittleEndian.Uint16(ra[0x14:]))
	caOff := int(binary.LittleEndian.Uint16(ra[0x16:]))
	if caOff%8 != 0 || raOff+caOff > 510 {
		return nil, bad("client array offset %d is invalid", caOff)
	}
	calcLen := caOff + int(p.LogClients)*ClientRecordSize
	if raOff+calcLen > int(p.SystemPageSize) || raOff+raLen > int(p.SystemPageSize) || calcLen > raLen {
		return nil, bad("restart area (length %d, %d clients) overflows the %d-byte page", raLen, p.LogClients, p.SystemPageSize)
	}
	if fixErr != nil && raOff+raLen > 510 {
		return nil, bad("%v", fixErr)
	}
	if (p.ClientFree != NoClient && p.ClientFree >= p.LogClients) || (p.ClientInUse != NoClient && p.ClientInUse >= p.LogClients) {
		return nil, bad("client lists (free %d, in use %d) point past the %d clients", p.ClientFree, p.ClientInUse, p.LogClients)
	}
	p.FileSize = int64(binary.LittleEndian.Uint64(ra[0x18:]))
	if p.FileSize < 0 {
		return nil, bad("negative journal size %d", p.FileSize)
	}
	if want := uint32(67 - bits.Len64(uint64(p.FileSize))); seqBits != want {
		return nil, bad("sequence number bits %d inconsistent with journal size %d (want %d)", seqBits, p.FileSize, want)
	}
	if binary.LittleEndian.Uint16(ra[0x24:])%8 != 0 || binary.LittleEndian.Uint16(ra[0x26:])%8 != 0 {
		return nil, bad("log record header length or page data offset not a multiple of 8")
	}
	p.OpenCount = binary.LittleEndian.Uint32(ra[0x28:])
	if magic == "RSTR" && p.ClientsInUse() {
		names, err := walkLogClients(full[raOff+caOff:], p.LogClients, p.ClientFree, p.ClientInUse)
		if err != nil {
			return nil, bad("%v", err)
		}
		p.Clients = names
	}
	return p, nil
}

// RestartPageError reports a restart page that fails the consistency checks.
type RestartPageError struct {
	Offset int64
	Reason string
}

func (e *RestartPageError) Error() string {
	return fmt.Sprintf("$LogFile restart page at offset %d: %s", e.Offset, e.Reason)
}

func pow2AtLeast(v, min uint32) bool { return v >= min && v&(v-1) == 0 }

// UnprotectPage removes the update sequence protection of a $LogFile
// page in place (same scheme as MFT records: the last two bytes of each
// 512-byte stride hold the update sequence number).
func UnprotectPage(b []byte, usaOff, usaCount int) error {
	if usaOff+2*usaCount > len(b) || (usaCount-1)*512 > len(b) {
		return errors.New("update sequence array out of range")
	}
	usn := binary.LittleEndian.Uint16(b[usaOff:])
	for i := 1; i < usaCount; i++ {
		tail := i*512 - 2
		if binary.LittleEndian.Uint16(b[tail:]) != usn {
			return fmt.Errorf("update sequence mismatch in 512-byte block %d (torn write)", i-1)
		}
		copy(b[tail:tail+2], b[usaOff+2*i:usaOff+2*i+2])
	}
	return nil
}

// walkLogClients follows the free and in-use client lists (bounded by the
// client count, so a loop is an error) and returns the in-use names.
func walkLogClients(ca []byte, n, free, inUse uint16) ([]string, error) {
	var names []string
	remaining := int(n)
	for pass, idx := range []uint16{free, inUse} {
		first := true
		for idx != NoClient {
			if remaining == 0 || idx >= n {
				return nil, errors.New("log client array is corrupt (list loops or overflows)")
			}
			remaining--
			c := ca[int(idx)*ClientRecordSize:]
			if first && binary.LittleEndian.Uint16(c[0x10:]) != NoClient {
				return nil, errors.New("log client array is corrupt (first client has a predecessor)")
			}
			first = false
			if pass == 1 {
				nl := int(binary.LittleEndian.Uint32(c[0x1C:]))
				if nl > 128 {
					nl = 128
				}
				names = append(names, utf16leString(c[0x20:0x20+nl&^1]))
			}
			idx = binary.LittleEndian.Uint16(c[0x12:])
		}
	}
	return names, nil
}

func utf16leString(b []byte) string {
	u := make([]rune, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		u = append(u, rune(binary.LittleEndian.Uint16(b[i:])))
	}
	return string(u)
}

// LogFileState is what the journal's restart pages say.
type LogFileState struct {
	// Empty: no restart page, every probed block 0xFF-filled (after
	// mkntfs, ntfsfix or a journal reset). An empty journal is clean.
	Empty bool `json:"empty"`
	// Clean is the verdict (see the package comment above).
	Clean bool `json:"clean"`
	// Version of the current restart page ("1.1", "2.0"; "" when empty).
	Version string `json:"version,omitempty"`
	// Current is the more recent valid restart page; Pages all valid ones.
	Current *RestartPage   `json:"current,omitempty"`
	Pages   []*RestartPage `json:"pages,omitempty"`
	// Invalid lists restart pages that failed the checks.
	Invalid []string `json:"invalid,omitempty"`
	// Reason says in words why the journal is (not) clean.
	Reason string `json:"reason"`
	// Size is the $LogFile data size.
	Size int64 `json:"size"`
}

// AnalyzeLogFile reads the restart pages of a $LogFile whose data (size
// bytes) r reads, and decides whether the journal is empty, clean or
// unclean, the way ntfs-3g does (it probes the blocks at 0, 512, 1024 ...
// doubling, stops at the first log record page "RCRD" or at an empty block
// after a non-empty one, and keeps at most two valid restart pages).
func AnalyzeLogFile(r io.ReaderAt, size int64) (*LogFileState, error) {
	st := &LogFileState{Size: size}
	const page = 4096
	if size < 2*page {
		return nil, fmt.Errorf("$LogFile is %d bytes: too small to hold two restart pages", size)
	}
	empty := true
	block := make([]byte, 512)
	for pos := int64(0); pos < size; {
		if _, err := r.ReadAt(block, pos); err != nil {
			return nil, fmt.Errorf("read $LogFile at %d: %w", pos, err)
		}
		magic := string(block[:4])
		if magic != "\xff\xff\xff\xff" {
			empty = false
		} else if !empty {
			break
		}
		if magic == "RCRD" {
			break
		}
		if magic == "RSTR" || magic == "CHKD" {
			sps := binary.LittleEndian.Uint32(block[0x10:])
			full := block
			if pow2AtLeast(sps, 512) && sps <= 1<<16 && sps > 512 && pos+int64(sps) <= size {
				full = make([]byte, sps)
				if _, err := r.ReadAt(full, pos); err != nil {
					return nil, fmt.Errorf("read $LogFile restart page at %d: %w", pos, err)
				}
			}
			rp, err := ParseRestartPage(full, pos)
			if err != nil {
				st.Invalid = append(st.Invalid, err.Error())
			} else {
				st.Pages = append(st.Pages, rp)
				if len(st.Pages) == 2 {
					break
				}
			}
		}
		if pos == 0 {
			pos = 512
		} else {
			pos <<= 1
		}
	}
	if empty {
		st.Empty, st.Clean = true, true
		st.Reason = "the journal is empty (all 0xFF): nothing to replay"
		return st, nil
	}
	if len(st.Pages) == 0 {
		// Not empty, yet no usable restart page: Windows could not replay
		// it either. Unclean (a reset may empty it).
		st.Reason = "the journal is not empty but has no valid restart page"
		if len(st.Invalid) > 0 {
			st.Reason += " (" + st.Invalid[0] + ")"
		}
		return st, nil
	}
	cur := st.Pages[0]
	if len(st.Pages) == 2 && st.Pages[1].LSN() > cur.LSN() {
		cur = st.Pages[1]
	}
	st.Current = cur
	st.Version = cur.Version()
	switch {
	case cur.Version() == "2.0":
		st.Reason = fmt.Sprintf("journal version 2.0 (Windows 8 or later left it open: Fast Startup or an abrupt stop; clean flag %v, clients in use %v): Windows would replay it at next mount",
			cur.CleanFlag(), cur.ClientsInUse())
	case !cur.ClientsInUse():
		st.Clean = true
		st.Reason = "journal version 1.1 with no client in use: the volume was dismounted cleanly"
	case cur.CleanFlag():
		st.Clean = true
		st.Reason = "journal version 1.1 with the clean flag set"
	default:
		st.Reason = "journal version 1.1 open (client in use) without the clean flag: the volume was not shut down cleanly and Windows would replay the journal"
	}
	return st, nil
}
