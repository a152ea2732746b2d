// What the batch pages derive from a batch: its progress, the actions its
// status allows and whether it is still moving.
import type { Batch, BatchAction, BatchStatus } from './api/types'

// The statuses the list route filters by; "legacy" is shown, not filtered.
export const BATCH_FILTER_STATUSES: BatchStatus[] = ['running', 'paused', 'cancelled', 'finished']

// Member statuses in the order a member passes through them.
export const MEMBER_STATUSES = ['pending', 'processing', 'sent', 'success', 'failed', 'cancelled'] as const

// Members in a final status out of the batch's members, 0–100.
export function batchPercent(b: Batch): number {
  if (b.success_count <= 0) return b.finished_at ? 100 : 0
  return Math.min(100, Math.floor((b.finished * 100) / b.success_count))
}

// The workflow takes pause while running, resume while paused and cancel
// until the batch has ended; a legacy batch has no workflow to take any.
export function batchActionAllowed(status: BatchStatus, action: BatchAction): boolean {
  switch (action) {
    case 'pause':
      return status === 'running'
    case 'resume':
      return status === 'paused'
    case 'cancel':
      return status === 'running' || status === 'paused'
  }
}

// Whether members may still change status: a running batch, or a paused or
// cancelled one whose chunks on their way have not all come back.
export function batchLive(b: Batch): boolean {
  switch (b.status) {
    case 'running':
      return true
    case 'paused':
      return b.counts.processing > 0
    case 'cancelled':
      return !b.finished_at || b.counts.processing > 0
    default:
      return false
  }
}
