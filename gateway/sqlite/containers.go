package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"

	"batchgate/gateway"
)

// The store is the domain's Store port.
var _ gateway.Store = (*DB)(nil)

const uniqueContainerName = "containers.project, containers.name"

// CreateContainer inserts c (gateway.Store). The caller names it (c.ID); an empty ID, state,
// schedule kind or creation time is filled in (a random id, Inactive, manual, now) and written
// back to c. A key already used by c.Owner for a create returns a *gateway.ReplayError with the
// first container's id and inserts nothing; a name taken in the project is a CodeConflict
// *gateway.Error on field "name".
func (s *DB) CreateContainer(ctx context.Context, c *gateway.Container, key string) error {
	if c.ID == "" {
		c.ID = newID()
	}
	if c.State == "" {
		c.State = gateway.Inactive
	}
	if c.Schedule.Kind == "" {
		c.Schedule.Kind = gateway.ScheduleManual
	}
	now := s.now()
	if c.CreatedAt.IsZero() {
		c.CreatedAt = now
	}
	if c.UpdatedAt.IsZero() {
		c.UpdatedAt = c.CreatedAt
	}
	row, err := toContainerRow(c)
	if err != nil {
		return dbErrorf("create container: %w", err)
	}
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := claimKey(ctx, tx, c.Owner, opCreate, key, c.ID, now); err != nil {
			return err
		}
		_, err := tx.NamedExecContext(ctx, "INSERT INTO containers ("+containerColumns+") VALUES ("+
			namedParams(containerColumns)+")", row)
		if isUnique(err, uniqueContainerName) {
			return nameTaken(c.Project, c.Name)
		}
		if err != nil {
			return dbErrorf("create container: %w", err)
		}
		return nil
	})
}

func nameTaken(project, name string) error {
	return &gateway.Error{
		Code:    gateway.CodeConflict,
		Message: "the name is already used in the project",
		Fields: []gateway.FieldError{{Field: "name", Detail: fmt.Sprintf(
			"a container named %q already exists in project %q; choose another name", name, project)}},
	}
}

// Container returns the container with id, or a CodeNotFound *gateway.Error.
func (s *DB) Container(ctx context.Context, id string) (*gateway.Container, error) {
	return getContainer(ctx, s.db, id)
}

func getContainer(ctx context.Context, q sqlx.QueryerContext, id string) (*gateway.Container, error) {
	var scan containerScan
	c, err := scan.scan(q.QueryRowxContext(ctx, "SELECT "+containerColumns+" FROM containers WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, gateway.NotFound("container", id)
	}
	if err != nil {
		return nil, dbErrorf("read container %s: %w", id, err)
	}
	return c, nil
}

// UpdateContainer writes c's spec fields (name, image, flavor, command, env, schedule, favorite)
// and UpdatedAt (now when zero), while the stored container is Inactive. Project, owner, state
// and the current task are not changed. Errors: CodeNotFound; CodeConflict when the container is
// not Inactive, or on field "name" when the new name is taken in the project.
func (s *DB) UpdateContainer(ctx context.Context, c *gateway.Container) error {
	if c.UpdatedAt.IsZero() {
		c.UpdatedAt = s.now()
	}
	row, err := toContainerRow(c)
	if err != nil {
		return dbErrorf("update container: %w", err)
	}
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := requireState(ctx, tx, c.ID, gateway.ActUpdate); err != nil {
			return err
		}
		_, err := tx.NamedExecContext(ctx, `UPDATE containers SET name = :name, image = :image,
			flavor = :flavor, command = :command, env = :env, schedule_kind = :schedule_kind,
			schedule_at = :schedule_at, favorite = :favorite, updated_at = :updated_at WHERE id = :id`, row)
		if isUnique(err, uniqueContainerName) {
			return nameTaken(c.Project, c.Name)
		}
		if err != nil {
			return dbErrorf("update container %s: %w", c.ID, err)
		}
		return nil
	})
}

// requireState re-reads the container's state inside tx and checks that action is allowed from
// it (gateway.ContainerState.Next): a CodeNotFound or CodeConflict *gateway.Error otherwise.
func requireState(ctx context.Context, tx *sqlx.Tx, id string, action gateway.Action) error {
	var state gateway.ContainerState
	err := tx.GetContext(ctx, &state, "SELECT state FROM containers WHERE id = ?", id)
	if errors.Is(err, sql.ErrNoRows) {
		return gateway.NotFound("container", id)
	}
	if err != nil {
		return dbErrorf("read container %s: %w", id, err)
	}
	_, err = state.Next(action)
	return err
}

// DeleteContainer removes an Inactive container; its name becomes free and its tasks and their
// history stay. Errors: CodeNotFound; CodeConflict when the container is not Inactive.
func (s *DB) DeleteContainer(ctx context.Context, id string) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := requireState(ctx, tx, id, gateway.ActDelete); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM containers WHERE id = ?", id); err != nil {
			return dbErrorf("delete container %s: %w", id, err)
		}
		return nil
	})
}
