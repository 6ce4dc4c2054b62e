package disk

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Container is how a target file holds its disk's bytes.
type Container string

// The containers OpenTarget opens itself. Their own metadata (a VHD
// footer, a VMDK descriptor) is never written: only the disk bytes inside.
const (
	// ContainerRaw: the file or block device is the disk, byte for byte.
	ContainerRaw Container = "raw"
	// ContainerFixedVHD: a fixed-size VHD, the disk's bytes followed by a
	// 512-byte footer.
	ContainerFixedVHD Container = "vhd-fixed"
	// ContainerFlatVMDK: a VMDK descriptor (a small text file) naming flat
	// extents, files that hold the disk's bytes as they are
	// (monolithicFlat, twoGbMaxExtentFlat, ESXi's vmfs).
	ContainerFlatVMDK Container = "vmdk-flat"
	// ContainerQemuNBD: a format with its own block allocation (qcow2,
	// VHDX, dynamic or differencing VHD, sparse or delta VMDK, VDI, QED),
	// read and written through qemu-nbd, which unbrick starts, speaks NBD
	// to, flushes and stops; qemu-nbd follows the image's backing chain.
	ContainerQemuNBD Container = "qemu-nbd"
	// ContainerNBD: an export of an NBD server named by an NBD URI.
	ContainerNBD Container = "nbd"
)

// UnsupportedContainerError is returned by OpenTarget for a disk image in a
// format unbrick does not open itself (qcow2, VHDX, a dynamic VHD, a sparse
// VMDK, VDI, QED) or in a layout it refuses (a VMDK delta of a snapshot
// chain). Nothing was written.
type UnsupportedContainerError struct {
	Path   string
	Format string // "qcow2", "VHDX", "dynamic VHD", ...
	Reason string // why it is not opened, and what to do
	// QemuFormat is qemu's name of the format ("qcow2", "vpc", ...) when
	// qemu-nbd can serve it; "" when unbrick refuses it outright.
	QemuFormat string
	// Unsafe: unbrick refuses the image rather than fails to read it:
	// it could open it but refuses to write it (the base of a snapshot
	// chain, a streamOptimized VMDK), or refuses to open it because what
	// it would read is not the VM's disk (a differencing VHD or VHDX,
	// whose parent qemu does not follow).
	Unsafe bool
}

func (e *UnsupportedContainerError) Error() string {
	return fmt.Sprintf("%s is a %s image: %s", e.Path, e.Format, e.Reason)
}

// convertHint tells the user how to get a raw image of a format unbrick
// does not open itself.
func convertHint(path, qemuFormat string) string {
	return "unbrick fixes raw images, fixed VHDs and flat VMDKs itself and other formats through qemu-nbd, but not this one; " + convertSteps(path, qemuFormat)
}

// convertSteps is the conversion to raw and back, for a message.
func convertSteps(path, qemuFormat string) string {
	return fmt.Sprintf("convert it to a raw image (qemu-img convert -f %s -O raw %s disk.raw; Debian package qemu-utils), fix that, "+
		"and convert it back or attach the raw image to the VM", qemuFormat, path)
}

// sniffImage recognises the container format of an image file from its
// first and last 512 bytes (head, tail; shorter for small files). It
// returns ContainerRaw for anything that is not a known container: a raw
// disk, a volume image, or something Candidates will say it does not
// recognise.
func sniffImage(path string, head, tail []byte, size int64) (Container, error) {
	unsupported := func(format, qemuFormat string) (Container, error) {
		return "", &UnsupportedContainerError{Path: path, Format: format, Reason: convertHint(path, qemuFormat), QemuFormat: qemuFormat}
	}
	switch {
	case bytes.HasPrefix(head, []byte("QFI\xfb")):
		return unsupported("qcow2", "qcow2")
	case bytes.HasPrefix(head, []byte("vhdxfile")):
		return unsupported("VHDX", "vhdx")
	case bytes.HasPrefix(head, []byte("KDMV")):
		if isStreamOptimized(head) {
			return unsupported("streamOptimized VMDK", "vmdk")
		}
		return unsupported("sparse VMDK", "vmdk")
	case bytes.HasPrefix(head, []byte("COWD")):
		return unsupported("ESX sparse VMDK (COWD)", "vmdk")
	case bytes.HasPrefix(head, []byte("QED\x00")):
		return unsupported("QED", "qed")
	case len(head) >= 0x44 && bytes.Equal(head[0x40:0x44], []byte{0x7f, 0x10, 0xda, 0xbe}):
		return unsupported("VirtualBox VDI", "vdi")
	case bytes.HasPrefix(head, []byte(vhdCookie)):
		// Dynamic and differencing VHDs keep a copy of the footer at the
		// start; a fixed VHD's disk starts with the disk's own bytes.
		if f, err := parseVHDFooter(head); err == nil {
			if f.DiskType == vhdTypeDifferencing {
				return "", differencingVHDError(path, nil)
			}
			return unsupported(f.typeName(), "vpc")
		}
	case isVMDKDescriptor(head):
		return ContainerFlatVMDK, nil
	}
	if len(tail) == vhdFooterSize && bytes.HasPrefix(tail, []byte(vhdCookie)) {
		f, err := parseVHDFooter(tail)
		if err != nil {
			return "", fmt.Errorf("%s ends in a VHD footer that is damaged: %w; nothing was written", path, err)
		}
		if f.DiskType == vhdTypeDifferencing {
			return "", differencingVHDError(path, nil)
		}
		if f.DiskType != vhdTypeFixed {
			return unsupported(f.typeName(), "vpc")
		}
		if want := size - vhdFooterSize; int64(f.CurrentSize) != want {
			return "", fmt.Errorf("%s: fixed VHD footer says the disk is %d bytes, but the file holds %d before its footer: "+
				"the image is damaged or was cut and padded; nothing was written", path, f.CurrentSize, want)
		}
		return ContainerFixedVHD, nil
	}
	return ContainerRaw, nil
}

// openContainer sets up t (opened on file f, a regular file of the given
// size) for the container format of the file: the disk size for a fixed
// VHD, the extents of a flat VMDK.
func (t *Target) openContainer(f *os.File, size int64, writable bool) error {
	head := make([]byte, 512)
	n, _ := f.ReadAt(head, 0)
	head = head[:n]
	var tail []byte
	if size >= 2*vhdFooterSize {
		tail = make([]byte, vhdFooterSize)
		if n, _ := f.ReadAt(tail, size-vhdFooterSize); n != vhdFooterSize {
			tail = nil
		}
	}
	c, err := sniffImage(t.path, head, tail, size)
	var ue *UnsupportedContainerError
	if errors.As(err, &ue) {
		switch {
		case ue.QemuFormat == "vhdx":
			// qemu does not open a differencing VHDX: say so now, and
			// what to do, rather than relay qemu-nbd's failure.
			v, verr := readVHDX(f, size)
			if verr != nil {
				return fmt.Errorf("%s: cannot read its VHDX metadata: %w; nothing was written", t.path, verr)
			}
			if v.HasParent {
				return differencingVHDXError(t.path, v)
			}
		case ue.Format == differencingVHDFormat:
			// Name the parent in the refusal when the header says it.
			if ft, ferr := parseVHDFooter(head); ferr == nil {
				if p, perr := readVHDParent(f, size, ft); perr == nil {
					return differencingVHDError(t.path, p)
				}
			}
		}
	}
	if err == nil && writable {
		// Writing the base of a snapshot chain corrupts every image
		// over it: refuse, naming the image to fix instead.
		if err := t.refuseIfParent(); err != nil {
			return err
		}
	}
	if errors.As(err, &ue) && ue.QemuFormat != "" {
		return t.openQemuNBD(ue, writable)
	}
	if err != nil {
		return err
	}
	t.container = c
	switch c {
	case ContainerFixedVHD:
		// Reads and writes are bounded by t.size: the footer is never
		// read as disk data nor written.
		t.size = size - vhdFooterSize
	case ContainerFlatVMDK:
		err := t.openFlatVMDK(f, size, writable)
		if errors.As(err, &ue) && ue.QemuFormat != "" {
			return t.openQemuNBD(ue, writable)
		}
		return err
	}
	return nil
}

// Format names the image format behind a qemu-nbd or NBD container
// ("qcow2", "VHDX", "dynamic VHD", an NBD URI's export); "" otherwise.
func (t *Target) Format() string { return t.format }

// Container is how the target file holds the disk (raw for block devices).
func (t *Target) Container() Container {
	if t.container == "" {
		return ContainerRaw
	}
	return t.container
}

// differencingVHDFormat and differencingVHDXFormat name the differencing
// formats in refusals.
const (
	differencingVHDFormat  = "differencing VHD (a snapshot over a parent disk)"
	differencingVHDXFormat = "differencing VHDX (Hyper-V checkpoint)"
)

// mergeSteps is what to do with a differencing VHD or VHDX, for a message.
func mergeSteps(path string) string {
	return "merge it into its parent first (Hyper-V: delete the checkpoint, which merges it into its parent, " +
		"or Edit Disk > Merge; PowerShell on the host: Merge-VHD -Path " + filepath.Base(path) + "), then fix the merged disk; " +
		"or fix the VM on its Hyper-V host once unbrick runs on Windows; nothing was written"
}

// differencingVHDXError refuses a differencing VHDX: qemu's VHDX driver
// does not open one (block/vhdx.c answers ENOTSUP when the File
// Parameters say HasParent), so unbrick cannot read or write it.
func differencingVHDXError(path string, v *vhdxInfo) *UnsupportedContainerError {
	parent := ""
	if p := v.Locator["relative_path"]; p != "" {
		parent = fmt.Sprintf(" %q", p)
	} else if p := v.Locator["absolute_win32_path"]; p != "" {
		parent = fmt.Sprintf(" %q", p)
	}
	return &UnsupportedContainerError{Path: path, Format: differencingVHDXFormat,
		Reason: "it holds only what changed since its parent" + parent + ", and qemu, through which unbrick opens VHDX files, " +
			"does not open differencing VHDX files; " + mergeSteps(path),
		Unsafe: true}
}

// differencingVHDError refuses a differencing VHD: qemu's VHD driver
// (vpc) opens one without its parent, so every sector the parent holds
// reads as zeros, and its first write to a block marks the whole block
// as the child's, hiding the parent's data there. p, when known, names
// the parent.
func differencingVHDError(path string, p *vhdParent) *UnsupportedContainerError {
	parent := ""
	if p != nil {
		for _, n := range []string{p.Relative, p.Absolute, p.Name} {
			if n != "" {
				parent = fmt.Sprintf(" %q", n)
				break
			}
		}
	}
	return &UnsupportedContainerError{Path: path, Format: differencingVHDFormat,
		Reason: "it holds only what changed since its parent" + parent + ", and qemu, through which unbrick opens VHD files, " +
			"reads it without its parent (the parent's sectors as zeros) and, writing, would hide the parent's data; " + mergeSteps(path),
		Unsafe: true}
}
