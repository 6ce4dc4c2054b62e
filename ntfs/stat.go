package ntfs

import (
	"fmt"
	"time"
)

// Times is one set of four NTFS timestamps.
type Times struct {
	Created, Modified, MFTChanged, Accessed time.Time
}

func timesOf(c, m, x, a uint64) Times {
	return Times{NTFSTime(c), NTFSTime(m), NTFSTime(x), NTFSTime(a)}
}

// NameInfo is one $FILE_NAME of a file (one hard link or DOS alias).
type NameInfo struct {
	Name      string
	Namespace Namespace
	Parent    FileRef
	Times     Times // the $FILE_NAME set (Windows updates these rarely)
	FileName  *FileName
}

// FileInfo is what Stat reports about a file.
type FileInfo struct {
	Ref             FileRef // record number and sequence number
	IsDir           bool
	Size            int64 // unnamed $DATA: logical size (0 for a directory)
	AllocatedSize   int64
	InitializedSize int64
	DiskSize        int64 // bytes of clusters actually allocated (less than AllocatedSize when sparse or compressed)
	Resident        bool
	Compressed      bool
	Sparse          bool
	Encrypted       bool
	Attributes      uint32 // $STANDARD_INFORMATION file attributes
	Times           Times  // the $STANDARD_INFORMATION set (what Explorer shows)
	SI              *StandardInformation
	Names           []NameInfo
	LinkCount       uint16 // record header
	ReparseTag      uint32 // 0 without a reparse point
	Reparse         *ReparsePoint
	HasObjectID     bool
	HasAttrList     bool
	Extensions      []uint64 // extension record numbers
	Streams         []string // named $DATA streams
}

// ModTime is the $STANDARD_INFORMATION last-write time.
func (fi *FileInfo) ModTime() time.Time { return fi.Times.Modified }

// Name returns the preferred name: Win32 or POSIX over DOS.
func (fi *FileInfo) Name() string {
	best := ""
	for _, n := range fi.Names {
		if n.Namespace != NamespaceDOS {
			return n.Name
		}
		if best == "" {
			best = n.Name
		}
	}
	return best
}

// ShortName returns the DOS (8.3) name if the file has a separate one, or
// the Win32+DOS name, or "".
func (fi *FileInfo) ShortName() string {
	for _, n := range fi.Names {
		if n.Namespace == NamespaceDOS || n.Namespace == NamespaceWin32DOS {
			return n.Name
		}
	}
	return ""
}

// Stat reports sizes, both timestamp sets, attributes, names and link
// count of the file at path.
func (v *Volume) Stat(path string) (*FileInfo, error) {
	f, err := v.Lookup(path)
	if err != nil {
		return nil, err
	}
	return f.Stat()
}

// Stat reports about the file (see Volume.Stat).
func (f *File) Stat() (*FileInfo, error) {
	fi := &FileInfo{Ref: f.Ref(), IsDir: f.IsDir(), LinkCount: f.Base.LinkCount, HasAttrList: f.AttrList != nil}
	for _, r := range f.Extensions {
		fi.Extensions = append(fi.Extensions, r.Number)
	}
	a := f.FindAttr(AttrStandardInformation, "")
	if a == nil || a.NonResident {
		return nil, Corrupt(fmt.Sprintf("MFT record %d", f.Base.Number), -1, "$STANDARD_INFORMATION", "has no resident $STANDARD_INFORMATION")
	}
	si, err := ParseStandardInformation(a.Value)
	if err != nil {
		return nil, fmt.Errorf("ntfs: MFT record %d: %w", f.Base.Number, err)
	}
	fi.SI = si
	fi.Attributes = si.FileAttributes
	fi.Times = timesOf(si.Created, si.Modified, si.MFTChanged, si.Accessed)
	for _, a := range f.Attrs {
		switch a.Type {
		case AttrFileName:
			if a.NonResident {
				return nil, Corrupt(fmt.Sprintf("MFT record %d", f.Base.Number), -1, "$FILE_NAME", "non-resident $FILE_NAME")
			}
			fn, err := ParseFileName(a.Value)
			if err != nil {
				return nil, fmt.Errorf("ntfs: MFT record %d: %w", f.Base.Number, err)
			}
			fi.Names = append(fi.Names, NameInfo{Name: fn.Name, Namespace: fn.Namespace, Parent: fn.Parent,
				Times: timesOf(fn.Created, fn.Modified, fn.MFTChanged, fn.Accessed), FileName: fn})
		case AttrObjectID:
			fi.HasObjectID = true
		case AttrReparsePoint:
			if !a.NonResident {
				rp, err := ParseReparsePoint(a.Value)
				if err != nil {
					return nil, fmt.Errorf("ntfs: MFT record %d: %w", f.Base.Number, err)
				}
				fi.Reparse, fi.ReparseTag = rp, rp.Tag
			} else {
				fi.ReparseTag = 0xffffffff // present, not decoded
			}
		case AttrData:
			if a.Name != "" && a.LowestVCN == 0 {
				fi.Streams = append(fi.Streams, a.Name)
			}
		}
	}
	if d := f.FindAttr(AttrData, ""); d != nil {
		fi.Compressed, fi.Sparse, fi.Encrypted = d.Compressed(), d.Sparse(), d.Encrypted()
		if d.NonResident {
			fi.Size, fi.AllocatedSize, fi.InitializedSize = d.DataSize, d.AllocatedSize, d.InitializedSize
			fi.DiskSize = d.AllocatedSize
			if d.Compressed() || d.Sparse() {
				fi.DiskSize = d.CompressedSize
			}
		} else {
			fi.Resident = true
			fi.Size = int64(len(d.Value))
			fi.InitializedSize = fi.Size
			fi.AllocatedSize = (fi.Size + 7) &^ 7
			fi.DiskSize = 0
		}
	}
	return fi, nil
}
