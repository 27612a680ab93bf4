package apptainer

import (
	"errors"
	"fmt"
	"time"
)

// Image types reported in Image.Type.
const (
	TypeSIF      = "sif"
	TypeSandbox  = "sandbox"
	TypeSquashFS = "squashfs"
	TypeExt3     = "ext3"
	TypeOCISIF   = "ocisif"
)

// Image describes one container image: a catalog entry or a checked user image.
type Image struct {
	Name       string            // catalog name, or the base name of a user's image
	Path       string            // absolute path with symlinks resolved: what apptainer is given
	Type       string            // one of the Type* constants
	Size       int64             // bytes on disk (0 for a sandbox directory)
	Arch       string            // Go architecture name of the root file system; "" when unknown
	Created    time.Time         // SIF creation time; zero when unknown
	Labels     map[string]string // image labels (org.label-schema.*, name, version ...); never nil
	Definition string            // the definition file the image was built from, if recorded
	ModTime    time.Time         // modification time of the file or directory
}

// Code classifies why an image reference was refused. The set is closed.
type Code string

// Codes carried by ImageError.
const (
	CodeInvalidRef   Code = "invalid_ref"       // neither a catalog name nor an absolute path
	CodeOutsideRoots Code = "outside_roots"     // the path leaves the user's own directories
	CodeNotFound     Code = "not_found"         // no such catalog name or path
	CodeNotReadable  Code = "permission_denied" // the user may not read the image
	CodeNotImage     Code = "not_an_image"      // ordinary file, corrupt or truncated image
	CodeWrongArch    Code = "wrong_arch"        // built for another architecture
)

// Sentinel errors; an *ImageError matches the one for its Code with errors.Is.
var (
	ErrImageNotFound = errors.New("image not found")
	ErrInvalidRef    = errors.New("invalid image reference")
	ErrOutsideRoots  = errors.New("image outside the allowed directories")
	ErrNotReadable   = errors.New("image not readable")
	ErrNotImage      = errors.New("not a container image")
	ErrWrongArch     = errors.New("image built for another architecture")
)

var codeSentinels = map[Code]error{
	CodeInvalidRef:   ErrInvalidRef,
	CodeOutsideRoots: ErrOutsideRoots,
	CodeNotFound:     ErrImageNotFound,
	CodeNotReadable:  ErrNotReadable,
	CodeNotImage:     ErrNotImage,
	CodeWrongArch:    ErrWrongArch,
}

// ImageError is a refusal the user can act on. Reason is a complete sentence
// safe to show to the user who made the reference; it never names files
// outside that user's own directories.
type ImageError struct {
	Ref    string // the reference as the user gave it
	Reason string // what is wrong and, where possible, what to do
	Code   Code
}

// Error implements error.
func (e *ImageError) Error() string {
	return fmt.Sprintf("image %q: %s", e.Ref, e.Reason)
}

// Is reports whether target is the sentinel error for e.Code.
func (e *ImageError) Is(target error) bool {
	s, ok := codeSentinels[e.Code]
	return ok && s == target
}

func refuse(ref string, code Code, format string, args ...any) *ImageError {
	return &ImageError{Ref: ref, Code: code, Reason: fmt.Sprintf(format, args...)}
}
