package logfile

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// Transactions and the journal analysis shown to users.
//
// Commit rule: a transaction is committed when its ForgetTransaction record
// is in the log (NTFS logs ForgetTransaction when a transaction ends;
// ntfs3 fslog.c analysis pass frees the transaction entry there, and
// ntfsrecover.c mark_transactions marks a transaction for redo from its
// ForgetTransaction record). Records with transaction id 0 belong to no
// transaction and count as committed. A transaction still open at the end
// of the log is what Windows would roll back (undo pass). Its changes are
// not redone by us; those that reached the disk are rolled back after the
// redo (replay_undo.go).

// Transaction groups the records of one transaction id.
type Transaction struct {
	ID        uint32
	Records   []*LogRecord
	Committed bool
}

// TransactionsInLog groups the records read (from StartLSN to EndLSN) by
// transaction id, in order of first appearance. Checkpoint records and
// table dumps are not part of any transaction.
func (lf *LogFile) TransactionsInLog() []*Transaction {
	var out []*Transaction
	byID := map[uint32]*Transaction{}
	for _, r := range lf.Records {
		if r.Type != LogRecordStandard || r.TransactionID == 0 {
			continue
		}
		t := byID[r.TransactionID]
		if t == nil || t.Committed {
			// an id is reused once its transaction was forgotten
			t = &Transaction{ID: r.TransactionID}
			byID[r.TransactionID] = t
			out = append(out, t)
		}
		t.Records = append(t.Records, r)
		if r.Redo == OpForgetTransaction {
			t.Committed = true
		}
	}
	return out
}

// JournalAnalysis is what `unbrick ntfs journal` shows about the log and
// what a replay would do.
type JournalAnalysis struct {
	Version       string   `json:"version"`
	RestartOffset int64    `json:"restart_page_offset"`
	RestartNotes  []string `json:"notes,omitempty"`
	CurrentLSN    uint64   `json:"current_lsn"`
	CheckpointLSN uint64   `json:"checkpoint_lsn"`
	OldestLSN     uint64   `json:"oldest_lsn"`
	EndLSN        uint64   `json:"end_lsn"`
	SeqBits       uint32   `json:"seq_number_bits"`
	LogPageSize   int64    `json:"log_page_size"`
	Records       int      `json:"records"`
	Stop          string   `json:"stop"`
	Committed     int      `json:"committed_transactions"`
	Uncommitted   int      `json:"uncommitted_transactions"`
	// Clean: the restart area says nothing needs replay (clean flag, or a
	// version 1.x log with no client in use); RedoTransactions is then 0.
	Clean            bool           `json:"journal_clean"`
	RedoTransactions int            `json:"redo_transactions"`
	RedoOps          map[string]int `json:"redo_ops"`
	// Supported and Unsupported split the operation names of RedoOps into
	// those replay.Plan can redo and those it refuses.
	Supported        []string       `json:"supported_ops"`
	Unsupported      []string       `json:"unsupported_ops,omitempty"`
	OpenAttributes   int            `json:"open_attributes"`
	DirtyPages       int            `json:"dirty_pages"`
	TableTransaction int            `json:"transaction_table_entries"`
	ReplayPossible   bool           `json:"replay_possible"`
	Why              string         `json:"why"`
	Transactions     []*Transaction `json:"-"`
	Log              *LogFile       `json:"-"`
}

// AnalyzeJournal parses the $LogFile data r reads (size bytes) and says
// what a replay would have to do; canRedo tells which operations the
// replayer supports (ntfs/replay passes its own). It never writes.
func AnalyzeJournal(r io.ReaderAt, size int64, canRedo func(LogOp) bool) (*JournalAnalysis, error) {
	lf, err := ReadLogFile(r, size)
	if err != nil {
		return nil, err
	}
	a := &JournalAnalysis{
		Version:          lf.Restart.Page.Version(),
		RestartOffset:    lf.Restart.Page.Offset,
		RestartNotes:     lf.Notes,
		CurrentLSN:       lf.Restart.Page.CurrentLSN,
		CheckpointLSN:    uint64(lf.Restart.ClientRestartLSN),
		OldestLSN:        uint64(lf.Restart.ClientOldestLSN),
		EndLSN:           uint64(lf.EndLSN),
		SeqBits:          lf.Restart.SeqBits,
		LogPageSize:      lf.Geometry.PageSize,
		Records:          len(lf.Records),
		Stop:             lf.Stop,
		RedoOps:          map[string]int{},
		OpenAttributes:   len(lf.OpenAttributes),
		DirtyPages:       len(lf.DirtyPages),
		TableTransaction: len(lf.Transactions),
		Log:              lf,
	}
	a.Transactions = lf.TransactionsInLog()
	unsupported := map[string]bool{}
	for _, t := range a.Transactions {
		if !t.Committed {
			a.Uncommitted++
			continue
		}
		a.Committed++
		for _, r := range t.Records {
			a.RedoOps[r.Redo.String()]++
			if !canRedo(r.Redo) {
				unsupported[r.Redo.String()] = true
			}
		}
	}
	for _, r := range lf.Records {
		if r.Type == LogRecordStandard && r.TransactionID == 0 {
			a.RedoOps[r.Redo.String()]++
			if !canRedo(r.Redo) {
				unsupported[r.Redo.String()] = true
			}
		}
	}
	for op := range a.RedoOps {
		if unsupported[op] {
			a.Unsupported = append(a.Unsupported, op)
		} else {
			a.Supported = append(a.Supported, op)
		}
	}
	sort.Strings(a.Supported)
	sort.Strings(a.Unsupported)
	p := lf.Restart.Page
	a.Clean = p.CleanFlag() || (p.MajorVersion < 2 && !p.ClientsInUse())
	if !a.Clean {
		a.RedoTransactions = a.Committed
	}
	switch {
	case a.Clean:
		// replay.Plan redoes nothing on a clean log (ntfsrecover.c: the
		// restart area's clean flag; ntfs-3g logfile.c: no client in use).
		a.ReplayPossible = true
		a.Why = "the restart area marks the journal clean: nothing to redo"
	case lf.Damaged:
		a.Why = "the log is damaged where its walk stopped (" + lf.Stop + "): committed records may be missing, so it must not be replayed or marked clean"
	case len(a.Unsupported) > 0:
		a.Why = "the log holds committed operations unbrick cannot redo yet: " + strings.Join(a.Unsupported, ", ")
	default:
		a.ReplayPossible = true
		a.Why = fmt.Sprintf("%d committed transaction(s) use only operations unbrick can redo", a.Committed)
	}
	return a, nil
}

// String renders the analysis for people.
func (a *JournalAnalysis) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "journal replay analysis: $LogFile version %s, restart page at %d, %d-byte log pages, %d sequence bits\n",
		a.Version, a.RestartOffset, a.LogPageSize, a.SeqBits)
	fmt.Fprintf(&b, "  checkpoint LSN %#x, oldest needed LSN %#x, restart-area current LSN %#x, end of log %#x\n",
		a.CheckpointLSN, a.OldestLSN, a.CurrentLSN, a.EndLSN)
	fmt.Fprintf(&b, "  %d record(s) read; walk stopped: %s\n", a.Records, a.Stop)
	fmt.Fprintf(&b, "  transactions: %d committed in the log, %d to redo; %d uncommitted (Windows would undo them)\n", a.Committed, a.RedoTransactions, a.Uncommitted)
	fmt.Fprintf(&b, "  checkpoint tables: %d open attribute(s), %d dirty page(s), %d transaction(s)\n", a.OpenAttributes, a.DirtyPages, a.TableTransaction)
	ops := make([]string, 0, len(a.RedoOps))
	for op, n := range a.RedoOps {
		ops = append(ops, fmt.Sprintf("%s x%d", op, n))
	}
	sort.Strings(ops)
	if len(ops) > 0 {
		fmt.Fprintf(&b, "  committed operations: %s\n", strings.Join(ops, ", "))
	}
	if len(a.Supported) > 0 {
		fmt.Fprintf(&b, "  unbrick can redo: %s\n", strings.Join(a.Supported, ", "))
	}
	if len(a.Unsupported) > 0 {
		fmt.Fprintf(&b, "  unbrick cannot redo: %s\n", strings.Join(a.Unsupported, ", "))
	}
	for _, n := range a.RestartNotes {
		fmt.Fprintf(&b, "  note: %s\n", n)
	}
	fmt.Fprintf(&b, "  replay possible: %v (%s)\n", a.ReplayPossible, a.Why)
	return b.String()
}
