package remedy

import (
	"errors"
	"fmt"

	"github.com/unbrick/unbrick/ntfs"
)

// planAndStage plans the deletion of every faulty file and stages each plan
// in the undo recorder before planning the next, so that each file's plan
// starts from the volume as the previous deletion leaves it (two files of
// one directory edit the same index). It returns the combined plan.
func (p *pipeline) planAndStage() (*ntfs.Plan, error) {
	var total *ntfs.Plan
	nv := p.nv
	opts := ntfs.DeleteOptions{Unclean: p.unclean, Hibernated: ntfs.HibernatedRefuse, Now: p.o.Now}
	for k, i := range p.faulty {
		path := p.v.Files[i].Path
		if k > 0 {
			var err error
			if nv, err = p.op.NTFS(); err != nil {
				return nil, failed(fmt.Errorf("re-open NTFS on the staged changes: %w", err))
			}
		}
		plan, err := nv.PlanDelete(path, opts)
		if err != nil {
			if errors.Is(err, ntfs.ErrRefused) {
				return nil, &outcome{StatusRefused, fmt.Errorf("plan the deletion of %s: %w", path, err)}
			}
			return nil, failed(fmt.Errorf("plan the deletion of %s: %w", path, err))
		}
		if err := p.op.Stage(plan); err != nil {
			return nil, failed(fmt.Errorf("stage the deletion of %s (nothing written): %w", path, err))
		}
		if total == nil {
			total = plan
		} else if err := total.Append(plan); err != nil {
			return nil, failed(err)
		}
	}
	return total, nil
}
