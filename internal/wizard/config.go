package wizard

import (
	"io"

	"github.com/unbrick/unbrick/internal/remedy"
)

// Config is what `unbrick wizard` hands the wizard.
type Config struct {
	// UI is the front end: NewTUI or NewLineUI.
	UI UI
	// Out receives the plain summary printed after the last screen (the
	// full-screen UI clears its screens when it ends).
	Out io.Writer
	// Version is the unbrick version for the welcome screen.
	Version string
	// Targets are the disk images or block devices to work on.
	Targets []string
	// Options carry the engine settings from the command line: keys and
	// key exports (matched automatically), rules, host identity,
	// technician. The wizard adds keys the user supplies, the journal
	// policy the user picks, the fleet log and the journal directory.
	Options remedy.Options
	// KeyFiles are the key export files given (for the screens).
	KeyFiles []string
	// LogDir is the fleet log directory; JournalDir the undo journal
	// directory.
	LogDir, JournalDir string
}
