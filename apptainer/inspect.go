package apptainer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/sylabs/sif/v2/pkg/sif"
	"github.com/sylabs/singularity/v4/pkg/image"
	sinspect "github.com/sylabs/singularity/v4/pkg/inspect"
)

// singularityMu serialises calls into singularity's pkg/image: image.Init
// records byte-range locks in unguarded process-wide maps, so two concurrent
// calls would race. Holding it only here keeps that state inside this package.
var singularityMu sync.Mutex

// maxMetadataSize bounds how much of a labels or definition object is read,
// so a hostile user image cannot make the gateway allocate gigabytes.
const maxMetadataSize = 1 << 20

// headerProbe is how many bytes of a partition are handed to the super block
// checks; singularity reads the same amount.
const headerProbe = 2048

// notImageError says why a path is not a usable image. Check turns it into an
// ImageError with CodeNotImage.
type notImageError struct{ reason string }

func (e *notImageError) Error() string { return e.reason }

func notImage(format string, args ...any) error {
	return &notImageError{reason: fmt.Sprintf(format, args...)}
}

// inspect reads the image at path (already resolved, described by fi) and
// returns its description. It returns a *notImageError when path is not an
// image apptainer could run, or another error when it cannot be read at all.
func inspect(path string, fi fs.FileInfo) (Image, error) {
	img := Image{
		Name:    catalogName(filepath.Base(path), fi.IsDir()),
		Path:    path,
		ModTime: fi.ModTime(),
		Labels:  map[string]string{},
	}
	switch {
	case fi.IsDir():
		return inspectSandbox(img)
	case fi.Mode().IsRegular():
		img.Size = fi.Size()
		return inspectFile(img)
	default:
		return Image{}, notImage("it is neither a regular file nor a directory")
	}
}

func inspectSandbox(img Image) (Image, error) {
	// The command always runs under /bin/sh -c, so a sandbox without one
	// would fail on the node; say so now. Lstat: sh is usually a symlink
	// (to busybox, or /usr/bin/dash) that only resolves inside the container.
	if _, err := os.Lstat(filepath.Join(img.Path, "bin", "sh")); err != nil {
		return Image{}, notImage("the directory is not a container sandbox: it has no /bin/sh")
	}
	if err := singularityInit(img.Path); err != nil {
		return Image{}, err
	}
	img.Type = TypeSandbox
	return img, nil
}

func inspectFile(img Image) (Image, error) {
	f, err := os.Open(img.Path)
	if err != nil {
		return Image{}, fmt.Errorf("open image: %w", err)
	}
	defer f.Close()

	head := make([]byte, 64)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return Image{}, fmt.Errorf("read image header: %w", err)
	}
	if !bytes.Contains(head[:n], []byte("SIF_MAGIC")) {
		return inspectOther(img)
	}
	img.Type = TypeSIF
	fimg, err := sif.LoadContainer(f, sif.OptLoadWithFlag(os.O_RDONLY), sif.OptLoadWithCloseOnUnload(false))
	if err != nil {
		return Image{}, notImage("corrupt SIF file: %v", err)
	}
	defer func() { _ = fimg.UnloadContainer() }()
	if err := sifMetadata(f, fimg, &img); err != nil {
		return Image{}, err
	}
	// Architecture mismatches are the caller's to judge against the
	// cluster's architecture; singularity can only judge against this host's.
	if img.Arch == "" || img.Arch == runtime.GOARCH {
		if err := singularityInit(img.Path); err != nil {
			return Image{}, err
		}
	}
	return img, nil
}

// inspectOther lets singularity recognise the non-SIF formats (bare squashfs,
// ext3).
func inspectOther(img Image) (Image, error) {
	t, err := singularityType(img.Path)
	if err != nil {
		return Image{}, err
	}
	switch t {
	case image.SQUASHFS:
		img.Type = TypeSquashFS
	case image.EXT3:
		img.Type = TypeExt3
	default:
		return Image{}, notImage("unsupported image format")
	}
	return img, nil
}

// sifMetadata fills img from the SIF's descriptors and checks that every data
// object lies inside the file (a truncated copy loads fine otherwise) and that
// the root file system partition starts with a valid super block.
func sifMetadata(f *os.File, fimg *sif.FileImage, img *Image) error {
	var truncated error
	fimg.WithDescriptors(func(d sif.Descriptor) bool {
		if end := d.Offset() + d.Size(); d.Offset() < 0 || d.Size() < 0 || end > img.Size {
			truncated = notImage("truncated SIF file: data object %d ends at byte %d, the file has %d bytes", d.ID(), end, img.Size)
			return true
		}
		return false
	})
	if truncated != nil {
		return truncated
	}
	if t := fimg.CreatedAt(); t.Unix() > 0 {
		img.Created = t.UTC()
	}
	if err := sifRootFS(f, fimg, img); err != nil {
		return err
	}
	if d, err := fimg.GetDescriptor(sif.WithDataType(sif.DataDeffile)); err == nil {
		if b, err := descriptorData(d); err == nil {
			img.Definition = string(b)
		}
	}
	if d, err := fimg.GetDescriptor(sif.WithDataType(sif.DataLabels)); err == nil {
		if b, err := descriptorData(d); err == nil {
			mergeLabels(img.Labels, b)
		}
	}
	inspectMetadata(fimg, img)
	return nil
}

func sifRootFS(f *os.File, fimg *sif.FileImage, img *Image) error {
	if _, err := fimg.GetDescriptor(sif.WithDataType(sif.DataOCIRootIndex)); err == nil {
		img.Type = TypeOCISIF
		img.Arch = knownArch(fimg.PrimaryArch())
		return nil
	}
	d, err := fimg.GetDescriptor(sif.WithPartitionType(sif.PartPrimSys))
	if err != nil {
		return notImage("the SIF file has no root file system partition")
	}
	fsType, _, arch, err := d.PartitionMetadata()
	if err != nil {
		return notImage("corrupt SIF root file system descriptor: %v", err)
	}
	img.Arch = knownArch(arch)
	hdr := make([]byte, headerProbe)
	if _, err := f.ReadAt(hdr, d.Offset()); err != nil && !errors.Is(err, io.EOF) {
		return notImage("cannot read the SIF root file system: %v", err)
	}
	switch fsType {
	case sif.FsSquash:
		if _, err := image.CheckSquashfsHeader(hdr); err != nil {
			return notImage("corrupt SIF root file system: %v", err)
		}
	case sif.FsExt3:
		if _, err := image.CheckExt3Header(hdr); err != nil {
			return notImage("corrupt SIF root file system: %v", err)
		}
	case sif.FsEncryptedSquashfs:
		// Encrypted: nothing to check without the key.
	default:
		return notImage("unsupported SIF root file system type %v", fsType)
	}
	return nil
}

// inspectMetadata reads the inspect-metadata.json object that SingularityCE
// builds record; its labels and definition take precedence.
func inspectMetadata(fimg *sif.FileImage, img *Image) {
	ds, err := fimg.GetDescriptors(sif.WithDataType(sif.DataGenericJSON))
	if err != nil {
		return
	}
	for _, d := range ds {
		if d.Name() != image.SIFDescInspectMetadataJSON {
			continue
		}
		b, err := descriptorData(d)
		if err != nil {
			return
		}
		var md sinspect.Metadata
		if json.Unmarshal(b, &md) != nil {
			return
		}
		for k, v := range md.Attributes.Labels {
			img.Labels[k] = v
		}
		if md.Attributes.Deffile != "" {
			img.Definition = md.Attributes.Deffile
		}
	}
}

func descriptorData(d sif.Descriptor) ([]byte, error) {
	if d.Size() > maxMetadataSize {
		return nil, fmt.Errorf("metadata object of %d bytes is too large", d.Size())
	}
	return d.GetData()
}

// mergeLabels decodes a labels JSON object; non-string values keep their JSON
// text so nothing is silently dropped.
func mergeLabels(dst map[string]string, b []byte) {
	var raw map[string]json.RawMessage
	if json.Unmarshal(b, &raw) != nil {
		return
	}
	for k, v := range raw {
		var s string
		if json.Unmarshal(v, &s) == nil {
			dst[k] = s
		} else {
			dst[k] = string(v)
		}
	}
}

func knownArch(a string) string {
	if a == "unknown" {
		return ""
	}
	return a
}

// singularityInit asks singularity's own format detection, the code apptainer
// runs before every exec, whether path is an image it accepts.
func singularityInit(path string) error {
	_, err := singularityType(path)
	return err
}

func singularityType(path string) (int, error) {
	singularityMu.Lock()
	defer singularityMu.Unlock()
	img, err := image.Init(path, false)
	if err != nil {
		if errors.Is(err, image.ErrUnknownFormat) {
			return 0, notImage("not a container image: no SIF header, squashfs or ext3 super block")
		}
		return 0, notImage("not a usable container image: %v", err)
	}
	if img.File != nil {
		_ = img.File.Close()
	}
	return img.Type, nil
}

// catalogName derives an image's catalog name from its file name.
func catalogName(base string, isDir bool) string {
	if isDir {
		return base
	}
	for _, ext := range []string{".sif", ".sqsh", ".squashfs", ".img"} {
		if n, ok := strings.CutSuffix(base, ext); ok && n != "" {
			return n
		}
	}
	return base
}
