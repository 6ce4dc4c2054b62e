package wizard

import (
	"strings"
	"testing"

	"github.com/unbrick/unbrick/internal/remedy"
)

// TestReplayText: the preview and result explain what a replay redoes and
// rolls back, and say nothing when nothing was replayed.
func TestReplayText(t *testing.T) {
	for _, c := range []struct {
		name    string
		j       *remedy.JournalInfo
		preview bool
		want    []string
		not     []string
	}{
		{"none", &remedy.JournalInfo{State: "clean"}, true, nil, []string{"journal"}},
		{"redo", &remedy.JournalInfo{State: "unclean", Replayed: map[string]int{"UpdateResidentValue": 2, "AddIndexEntryRoot": 1}}, true,
			[]string{"3 change(s)", "are finished first", "journal replay: AddIndexEntryRoot 1, UpdateResidentValue 2"}, []string{"undone"}},
		{"redo and undo", &remedy.JournalInfo{State: "unclean", Replayed: map[string]int{"UpdateResidentValue": 1}, RolledBack: 2}, false,
			[]string{"1 change(s)", "were finished first", "2 half-done change(s)", "were undone"}, nil},
		{"undo only", &remedy.JournalInfo{State: "unclean", RolledBack: 1}, true,
			[]string{"1 half-done change(s)", "are undone"}, []string{"committed but not yet", "journal replay:"}},
		{"reset", &remedy.JournalInfo{State: "unclean", Reset: true}, true, []string{"emptied first", "checks\nthe disk"}, nil},
	} {
		s := replayText(c.j, c.preview)
		for _, w := range c.want {
			if !strings.Contains(s, w) {
				t.Errorf("%s: %q lacks %q", c.name, s, w)
			}
		}
		for _, w := range c.not {
			if strings.Contains(s, w) {
				t.Errorf("%s: %q has %q", c.name, s, w)
			}
		}
	}
}
