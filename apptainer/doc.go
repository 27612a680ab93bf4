// Package apptainer owns everything batchgate knows about Apptainer: the
// site's image catalog, the checks an image reference must pass before a job
// may use it, and the exact `apptainer exec` argv a job runs.
//
// It is the only importer of github.com/sylabs/singularity/v4 and
// github.com/sylabs/sif/v2. Singularity's pkg/image keeps process-wide lock
// maps and a global logger; this package serialises every call into it
// (see inspect.go) so callers never see that state.
//
// Environment values reach the container through APPTAINERENV_NAME
// variables set by an `env` prefix on the argv, with --no-eval, because
// apptainer's --env flag splits values on commas and trims quotes (see
// Command).
//
// Machines without Apptainer (CI) run jobs through the stand-in
// integration/testdata/bin/apptainer, which is NOT apptainer; its header says
// what it does and does not emulate, and TestStandInAgreesWithCommand keeps it
// in step with Command.
//
// Nothing here runs a container: Command is pure, and the job script (rendered
// by the slurm package) runs the argv on a compute node as the user.
//
// # Image names
//
// A catalog name is an image's file name in a site image directory with its
// image extension (.sif, .sqsh, .squashfs, .img) removed; a sandbox
// directory's name is its directory name. When two directories hold the same
// name, the first directory in CatalogConfig.Dirs wins, as PATH does. Names
// never contain '/', which is how Check tells a name from a path.
package apptainer
