package ntfs

import (
	"errors"
	"fmt"
	"strings"

	"github.com/unbrick/unbrick/ntfs/logfile"
)

// JournalState is the state a writer must check before touching a volume:
// the $LogFile journal, the $Volume dirty flag and hiberfil.sys.
type JournalState struct {
	// JournalVersion is the current restart page's version ("1.1", "2.0";
	// "" for an empty journal).
	JournalVersion string `json:"journal_version"`
	// Clean: the journal needs no replay (empty, or version 1.1 closed or
	// flagged clean).
	Clean bool `json:"clean"`
	// Reason explains Clean in words.
	Reason string `json:"reason"`
	// VolumeFlags is $VOLUME_INFORMATION's flags word; Dirty its bit 0
	// (VOLUME_IS_DIRTY: chkdsk runs at next boot).
	VolumeFlags uint16 `json:"volume_flags"`
	Dirty       bool   `json:"dirty"`
	// Hibernation describes \hiberfil.sys.
	Hibernation HiberState `json:"hibernation"`
	// LogFile has the restart page details.
	LogFile *logfile.LogFileState `json:"logfile"`
}

// JournalState reads the $LogFile restart pages, the dirty flag and the
// hiberfil.sys header.
func (v *Volume) JournalState() (*JournalState, error) {
	js := &JournalState{VolumeFlags: v.info.Flags, Dirty: v.info.Dirty()}
	lf, err := v.OpenRef(MakeRef(RecordLogFile, 0))
	if err != nil {
		return nil, fmt.Errorf("ntfs: $LogFile: %w", err)
	}
	ra, size, err := lf.AttrReader(AttrData, "")
	if err != nil {
		return nil, fmt.Errorf("ntfs: $LogFile data: %w", err)
	}
	st, err := logfile.AnalyzeLogFile(ra, size)
	if err != nil {
		return nil, fmt.Errorf("ntfs: %w", err)
	}
	js.LogFile, js.Clean, js.Reason, js.JournalVersion = st, st.Clean, st.Reason, st.Version
	h, err := v.hiberState()
	if err != nil {
		return nil, err
	}
	js.Hibernation = h
	return js, nil
}

func (v *Volume) hiberState() (HiberState, error) {
	f, err := v.Lookup("/hiberfil.sys")
	if errors.Is(err, ErrNotFound) {
		return HiberState{State: HiberAbsent}, nil
	}
	if err != nil {
		return HiberState{}, fmt.Errorf("ntfs: look up hiberfil.sys: %w", err)
	}
	ra, size, err := f.AttrReader(AttrData, "")
	if err != nil {
		return HiberState{}, fmt.Errorf("ntfs: hiberfil.sys data: %w", err)
	}
	n := min(size, HiberHeaderSize)
	hdr := make([]byte, n)
	if k, err := ra.ReadAt(hdr, 0); int64(k) < n {
		return HiberState{}, fmt.Errorf("ntfs: read hiberfil.sys header: %w", eofIsUnexpected(err))
	}
	h := classifyHiberHeader(hdr, size)
	h.Record = f.Base.Number
	return h, nil
}

// UncleanPolicy says what to do with a journal that is not clean.
type UncleanPolicy string

// HibernatedPolicy says what to do with a live hibernation file.
type HibernatedPolicy string

const (
	// UncleanRefuse refuses to write (the default).
	UncleanRefuse UncleanPolicy = "refuse"
	// UncleanReset empties the journal as ntfsfix does and sets the dirty
	// flag so that Windows runs chkdsk at next boot. Changes the journal
	// would have redone are lost (no replay).
	UncleanReset UncleanPolicy = "reset"
	// UncleanReplay redoes the journal's committed transactions first
	// (replay.Plan), as Windows does at mount, and writes only when
	// every record could be replayed; otherwise it refuses like
	// UncleanRefuse. The delete itself still needs a clean journal: the
	// caller replays, re-opens the volume and then plans the delete.
	UncleanReplay UncleanPolicy = "replay"
	// HibernatedRefuse refuses to write (the default).
	HibernatedRefuse HibernatedPolicy = "refuse"
	// HibernatedDiscard invalidates the hibernation image: Windows cold
	// boots and the hibernated session (unsaved work) is lost.
	HibernatedDiscard HibernatedPolicy = "discard"
)

// ParseUncleanPolicy parses "replay", "refuse" or "reset" ("" is refuse:
// the library's gate never writes by default; the front ends default to
// replay and call replay.Plan themselves).
func ParseUncleanPolicy(s string) (UncleanPolicy, error) {
	switch UncleanPolicy(s) {
	case UncleanRefuse, UncleanReset, UncleanReplay:
		return UncleanPolicy(s), nil
	case "":
		return UncleanRefuse, nil
	}
	return "", fmt.Errorf("unknown --unclean policy %q (replay, refuse or reset)", s)
}

// ParseHibernatedPolicy parses "refuse" or "discard".
func ParseHibernatedPolicy(s string) (HibernatedPolicy, error) {
	switch HibernatedPolicy(s) {
	case HibernatedRefuse, HibernatedDiscard:
		return HibernatedPolicy(s), nil
	case "":
		return HibernatedRefuse, nil
	}
	return "", fmt.Errorf("unknown --hibernated policy %q (refuse or discard)", s)
}

// ErrRefused is matched (errors.Is) by every *RefusedError.
var ErrRefused = errors.New("ntfs: refused")

// RefusedError reports a state or a file this package will not write to
// (exit code 4 in the CLI). Nothing was written.
type RefusedError struct {
	Reason  string // what was found
	Choices string // what the user can do
}

func (e *RefusedError) Error() string {
	s := "refused: " + e.Reason + "; nothing was written"
	if e.Choices != "" {
		s += ". " + e.Choices
	}
	return s
}

// Is makes errors.Is(err, ErrRefused) true.
func (e *RefusedError) Is(target error) bool { return target == ErrRefused }

func refuse(choices, format string, a ...any) error {
	return &RefusedError{Reason: fmt.Sprintf(format, a...), Choices: choices}
}

// WriteGate checks the journal state against the policies before any
// write. It returns the notes to tell the user, or a *RefusedError.
func (js *JournalState) WriteGate(unclean UncleanPolicy, hib HibernatedPolicy) ([]string, error) {
	var notes []string
	if js.Hibernation.Live() {
		if hib != HibernatedDiscard {
			what := "Windows is hibernated (or shut down with Fast Startup)"
			if js.Hibernation.State == HiberShort {
				what = fmt.Sprintf("hiberfil.sys is only %d bytes (ntfs-3g treats this as hibernated)", js.Hibernation.Size)
			} else if js.Hibernation.State == HiberUnknown {
				what = fmt.Sprintf("hiberfil.sys starts with an unknown signature %q", js.Hibernation.Signature)
			}
			return nil, refuse("Boot Windows and shut it down fully (shutdown /s /t 0), or pass --hibernated=discard to invalidate the image: Windows then cold-boots and the hibernated session's unsaved work is lost",
				"%s: hiberfil.sys header %q; writing now would be undone or corrupted when the session resumes", what, js.Hibernation.Signature)
		}
		notes = append(notes, fmt.Sprintf("hibernation image (hiberfil.sys, signature %q) invalidated: Windows will cold boot; the hibernated session and its unsaved work are lost", js.Hibernation.Signature))
	}
	if !js.Clean {
		if unclean != UncleanReset {
			return nil, refuse("Choices: --unclean=replay (the default of fix and ntfs rm) redoes the journal as Windows does at mount, when unbrick can replay every record in it; boot Windows once so it replays its journal, then retry; or pass --unclean=reset to empty the journal as ntfsfix does (changes Windows had not yet written are lost; the dirty flag is set so chkdsk checks the volume at next boot)",
				"the NTFS journal ($LogFile) is not clean: %s", js.Reason)
		}
		notes = append(notes, "journal ($LogFile) emptied without replay ("+js.Reason+"); volume dirty flag set: Windows runs chkdsk at next boot")
	} else if js.Dirty {
		notes = append(notes, "the volume dirty flag was already set (chkdsk scheduled); it is left set")
	}
	return notes, nil
}

// String renders the state for humans.
func (js *JournalState) String() string {
	var b strings.Builder
	ver := js.JournalVersion
	if ver == "" {
		ver = "(empty)"
	}
	fmt.Fprintf(&b, "journal:      version %s, clean %v: %s\n", ver, js.Clean, js.Reason)
	if lf := js.LogFile; lf != nil {
		for _, p := range lf.Pages {
			fmt.Fprintf(&b, "  restart page at %d: %s v%s LSN %d, clients in use %v %v, flags 0x%04x\n",
				p.Offset, p.Magic, p.Version(), p.LSN(), p.ClientsInUse(), p.Clients, p.Flags)
		}
		for _, s := range lf.Invalid {
			fmt.Fprintf(&b, "  invalid: %s\n", s)
		}
	}
	fmt.Fprintf(&b, "dirty flag:   %v (volume flags 0x%04x)\n", js.Dirty, js.VolumeFlags)
	h := js.Hibernation
	switch h.State {
	case HiberAbsent:
		fmt.Fprintf(&b, "hibernation:  no hiberfil.sys\n")
	default:
		fmt.Fprintf(&b, "hibernation:  %s (hiberfil.sys record %d, %d bytes, signature %q)\n", h.State, h.Record, h.Size, h.Signature)
	}
	return b.String()
}
