package ntfs

import (
	"errors"
	"fmt"
)

var (
	// ErrNotNTFS means the volume has no NTFS boot sector signature.
	ErrNotNTFS = errors.New("ntfs: not an NTFS volume (no \"NTFS    \" signature at byte 3); check the partition number, or unlock BitLocker first")
	// ErrCorrupt matches (errors.Is) every *FormatError: a structural
	// inconsistency found while parsing.
	ErrCorrupt = errors.New("ntfs: corrupt structure")
	// ErrNotFound means a path component does not exist.
	ErrNotFound = errors.New("ntfs: no such file or directory")
	// ErrNotDirectory means a path component that must be a directory is not one.
	ErrNotDirectory = errors.New("ntfs: not a directory")
	// ErrIsDirectory means file data was asked of a directory.
	ErrIsDirectory = errors.New("ntfs: is a directory")
	// ErrCompressed is returned for compressed data this package cannot decode.
	ErrCompressed = errors.New("ntfs: compressed file, not supported")
	// ErrEncrypted is returned for EFS-encrypted file data.
	ErrEncrypted = errors.New("ntfs: EFS-encrypted file, not supported")
	// ErrTruncated means the image or device ends before the volume does.
	ErrTruncated = errors.New("ntfs: image is shorter than the volume its boot sector describes (truncated copy or wrong partition size)")
)

// FormatError reports an on-disk structure that breaks the NTFS format, in
// the manner of debug/elf.FormatError: which structure, which field of it,
// at which byte offset, and what is wrong. Every structural problem found
// by this package and by ntfs/logfile, ntfs/edit and ntfs/replay is a
// *FormatError (possibly wrapped); errors.Is(err, ErrCorrupt) is true for
// each, and errors.As(err, &fe) gives the details without matching strings.
type FormatError struct {
	// Structure names the structure and, when it has one, its number:
	// "MFT record 5", "INDX block", "run list", "$FILE_NAME",
	// "boot sector", "index $I30 of record 5", "LZNT1 data".
	Structure string
	// Field is the field at fault ("update sequence array", "length",
	// "signature", ...), or "" when the structure as a whole is wrong.
	Field string
	// Offset is the byte offset of Field from the start of Structure, or
	// -1 when the problem is not at one place.
	Offset int64
	// Msg says what is wrong.
	Msg string
}

func (e *FormatError) Error() string {
	s := "ntfs: corrupt structure: " + e.Structure + ": " + e.Msg
	switch {
	case e.Field != "" && e.Offset >= 0:
		s += fmt.Sprintf(" (%s at offset %d)", e.Field, e.Offset)
	case e.Field != "":
		s += " (" + e.Field + ")"
	case e.Offset >= 0:
		s += fmt.Sprintf(" (at offset %d)", e.Offset)
	}
	return s
}

// Is makes errors.Is(err, ErrCorrupt) true for a *FormatError.
func (e *FormatError) Is(target error) bool { return target == ErrCorrupt }

// Corrupt returns a *FormatError for structure s, field field at byte
// offset off (-1: none) with a message formatted from format and args. It
// is exported for ntfs/logfile, ntfs/edit and ntfs/replay, which report
// damage in the same form.
func Corrupt(s string, off int64, field, format string, args ...any) *FormatError {
	return &FormatError{Structure: s, Field: field, Offset: off, Msg: fmt.Sprintf(format, args...)}
}
