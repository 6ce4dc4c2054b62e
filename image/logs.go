package image

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"

	diskfs "github.com/diskfs/go-diskfs"
	"github.com/diskfs/go-diskfs/disk"
	"github.com/diskfs/go-diskfs/filesystem"
	"github.com/diskfs/go-diskfs/partition/gpt"
)

// ErrNoLogsPartition means the image or device has no GPT partition named
// LOGS: it is not an unbrick stick.
var ErrNoLogsPartition = errors.New("no partition named LOGS")

// Stick is the LOGS partition of an unbrick image or stick, opened
// read-only with go-diskfs (no mount, no root needed for image files).
type Stick struct {
	d  *disk.Disk
	fs filesystem.FileSystem
}

// LogFile is one file under logs/ or journal/.
type LogFile struct {
	Path string // "/logs/boot-20261126T051200Z.txt"
	Size int64
}

// OpenStick opens the LOGS partition of the image file or block device p:
// a USB stick image (partition 2) or a logs-only image (--format logs,
// partition 1); the partition is found by its GPT name, wherever it is.
func OpenStick(p string) (*Stick, error) {
	d, err := diskfs.Open(p, diskfs.WithOpenMode(diskfs.ReadOnly))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", p, err)
	}
	tbl, err := d.GetPartitionTable()
	if err != nil {
		d.Close()
		if isISO9660(p) {
			return nil, fmt.Errorf("%s: %w: this ISO 9660 image has no GPT, so no LOGS partition (an unbrick ISO from before the hybrid layout, or another ISO); read the LOGS disk that was attached beside it (built with --format logs)", p, ErrNoLogsPartition)
		}
		return nil, fmt.Errorf("%s: %w (no GPT: not an unbrick stick)", p, ErrNoLogsPartition)
	}
	g, ok := tbl.(*gpt.Table)
	if !ok {
		d.Close()
		return nil, fmt.Errorf("%s: %w (MBR disk: not an unbrick stick)", p, ErrNoLogsPartition)
	}
	idx := -1
	for i, part := range g.Partitions {
		if part != nil && part.Name == LogsPartName {
			idx = i + 1
		}
	}
	if idx < 0 {
		d.Close()
		return nil, fmt.Errorf("%s: %w", p, ErrNoLogsPartition)
	}
	fs, err := d.GetFilesystem(idx)
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("%s: LOGS partition %d: no readable FAT file system: %w", p, idx, err)
	}
	return &Stick{d: d, fs: fs}, nil
}

// isISO9660 reports whether p holds an ISO 9660 primary volume descriptor
// at block 16 (ECMA-119 8.4: type 1, "CD001").
func isISO9660(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	b := make([]byte, 6)
	if _, err := f.ReadAt(b, 16*isoBlock); err != nil {
		return false
	}
	return b[0] == 1 && string(b[1:]) == "CD001"
}

// Close releases the image.
func (s *Stick) Close() error { return s.d.Close() }

// List returns the files under dir ("/logs" or "/journal"), recursively,
// sorted by path.
func (s *Stick) List(dir string) ([]LogFile, error) {
	var out []LogFile
	var walk func(d string) error
	walk = func(d string) error {
		// go-diskfs' FAT ReadDir takes io/fs style paths: no leading slash.
		ents, err := s.fs.ReadDir(fsPath(d))
		if err != nil {
			return fmt.Errorf("read directory %s: %w", d, err)
		}
		for _, e := range ents {
			p := path.Join(d, e.Name())
			if e.IsDir() {
				if e.Name() == "." || e.Name() == ".." {
					continue
				}
				if err := walk(p); err != nil {
					return err
				}
				continue
			}
			var size int64
			if fi, err := e.Info(); err == nil {
				size = fi.Size()
			}
			out = append(out, LogFile{Path: p, Size: size})
		}
		return nil
	}
	if err := walk(dir); err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// ReadFile returns the content of a file on the LOGS partition. Files
// larger than 64 MiB are refused. The size comes from the directory entry:
// go-diskfs v1.9.4 returns data past the end of files that Linux wrote
// (up to the end of a cluster run), so the read is cut to that size.
func (s *Stick) ReadFile(p string) ([]byte, error) {
	size := int64(-1)
	ents, err := s.fs.ReadDir(fsPath(path.Dir(p)))
	if err != nil {
		return nil, fmt.Errorf("read directory of %s on LOGS: %w", p, err)
	}
	for _, e := range ents {
		if e.Name() == path.Base(p) && !e.IsDir() {
			if fi, err := e.Info(); err == nil {
				size = fi.Size()
			}
		}
	}
	if size < 0 {
		return nil, fmt.Errorf("%s on LOGS: %w", p, os.ErrNotExist)
	}
	if size > 64<<20 {
		return nil, fmt.Errorf("%s on LOGS is larger than 64 MiB", p)
	}
	if size == 0 {
		return []byte{}, nil // go-diskfs cannot open empty files made by other tools (#417)
	}
	f, err := s.fs.OpenFile(p, os.O_RDONLY)
	if err != nil {
		return nil, fmt.Errorf("open %s on LOGS: %w", p, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, size))
	if err != nil {
		return nil, fmt.Errorf("read %s on LOGS: %w", p, err)
	}
	if int64(len(data)) != size {
		return nil, fmt.Errorf("read %s on LOGS: got %d of %d bytes", p, len(data), size)
	}
	return data, nil
}

// fsPath turns "/logs" into the io/fs style name go-diskfs' FAT ReadDir
// wants ("logs"; "." for the root).
func fsPath(p string) string {
	p = strings.Trim(path.Clean("/"+p), "/")
	if p == "" {
		return "."
	}
	return p
}
