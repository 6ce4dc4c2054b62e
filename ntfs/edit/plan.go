package edit

import (
	"fmt"
	"strings"
)

// Write is one planned write to the volume: Before is what the planner read
// at Offset, After what is to be written there. Offset and the length are
// whole sectors (Plan.SectorSize). What names the structure in words
// ("MFT record 2999 (target, freed)", "$Bitmap clusters 2206-2215 freed").
type Write struct {
	Offset int64  `json:"offset"`
	Before []byte `json:"-"`
	After  []byte `json:"-"`
	What   string `json:"what"`
}

// Len returns the number of bytes the write covers.
func (w *Write) Len() int { return len(w.After) }

// ChangedBytes counts the bytes that differ between Before and After.
func (w *Write) ChangedBytes() int {
	n := 0
	for i := range w.After {
		if i >= len(w.Before) || w.Before[i] != w.After[i] {
			n++
		}
	}
	return n
}

// Plan is the complete, ordered list of writes that carries out one change
// of the volume (a delete, a journal reset, a hibernation-file discard),
// built without writing anything. Apply carries it out; a dry run prints it.
// The order of Writes is the crash-safe order documented in doc.go
// ("Delete write order"): Apply must keep it.
type Plan struct {
	// SectorSize is the volume's bytes per sector; every write is aligned
	// to it.
	SectorSize int `json:"sector_size"`
	// Writes in the order they must reach the disk.
	Writes []Write `json:"writes"`
	// Deleted describes the files this plan deletes.
	Deleted []DeletedFile `json:"deleted,omitempty"`
	// Notes are facts the user must be told (dirty flag left set, journal
	// emptied, hibernated session discarded...).
	Notes []string `json:"notes,omitempty"`
}

// DeletedFile describes one file a Plan deletes.
type DeletedFile struct {
	Path           string   `json:"path"`
	Record         uint64   `json:"mft_record"`
	Sequence       uint16   `json:"sequence"`
	NewSequence    uint16   `json:"new_sequence"`
	Names          []string `json:"names"`
	Size           int64    `json:"size"`
	FreedClusters  int64    `json:"freed_clusters"`
	ParentRecord   uint64   `json:"parent_record"`
	IndexNodesEdit int      `json:"index_nodes_written"`
	// ObjectID is the file's object ID (GUID) when it had one: its entry
	// left $Extend\$ObjId:$O.
	ObjectID string `json:"object_id,omitempty"`
}

// Bytes returns the total number of bytes the plan writes.
func (p *Plan) Bytes() int64 {
	var n int64
	for i := range p.Writes {
		n += int64(len(p.Writes[i].After))
	}
	return n
}

// Sectors returns the number of sectors the plan writes.
func (p *Plan) Sectors() int64 {
	if p.SectorSize <= 0 {
		return 0
	}
	return p.Bytes() / int64(p.SectorSize)
}

// Append adds the writes and notes of q after those of p (used to put a
// journal reset in front of a delete). Sector sizes must agree.
func (p *Plan) Append(q *Plan) error {
	if q == nil {
		return nil
	}
	if p.SectorSize == 0 {
		p.SectorSize = q.SectorSize
	}
	if q.SectorSize != 0 && q.SectorSize != p.SectorSize {
		return fmt.Errorf("combine plans: sector size %d and %d differ", p.SectorSize, q.SectorSize)
	}
	p.Writes = append(p.Writes, q.Writes...)
	p.Deleted = append(p.Deleted, q.Deleted...)
	p.Notes = append(p.Notes, q.Notes...)
	return nil
}

// String renders the plan for humans: one line per write (offset, sector
// count, bytes changed, what) followed by the notes.
func (p *Plan) String() string {
	var b strings.Builder
	for _, d := range p.Deleted {
		fmt.Fprintf(&b, "delete %s: MFT record %d (sequence %d -> %d), %d name(s) %s, %d cluster(s) freed\n",
			d.Path, d.Record, d.Sequence, d.NewSequence, len(d.Names), strings.Join(d.Names, ", "), d.FreedClusters)
	}
	ss := int64(p.SectorSize)
	if ss <= 0 {
		ss = 512
	}
	fmt.Fprintf(&b, "%d write(s), %d sector(s), %d byte(s):\n", len(p.Writes), p.Bytes()/ss, p.Bytes())
	for i := range p.Writes {
		w := &p.Writes[i]
		fmt.Fprintf(&b, "  %3d  offset %#010x  sector %-10d x%-3d  %5d byte(s) changed  %s\n",
			i+1, w.Offset, w.Offset/ss, int64(len(w.After))/ss, w.ChangedBytes(), w.What)
	}
	for _, n := range p.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	return b.String()
}
