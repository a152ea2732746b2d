package sandbox

import (
	"sync"
	"time"

	"github.com/heraldhq/herald/providers"
)

// record is what the sandbox remembers of a message it accepted: its final
// state, as a real provider's status API would report it.
type record struct {
	accountID   int64
	messageID   string
	taskID      string
	receiver    string
	status      providers.ReceiptStatus
	code        string
	description string
	at          time.Time
}

func (r *record) receipt() providers.Receipt {
	return providers.Receipt{
		ProviderMessageID: r.messageID,
		TaskID:            r.taskID,
		Receiver:          r.receiver,
		Status:            r.status,
		Code:              r.code,
		Description:       r.description,
		At:                r.at,
	}
}

type taskKey struct {
	accountID int64
	taskID    string
}

// recordStore holds the last limit accepted messages, by provider message id
// and by task.
type recordStore struct {
	mu    sync.Mutex
	limit int
	byID  map[string]*record
	// byTask points at a task's latest message, for a send whose outcome
	// was unknown and whose provider id Herald therefore never learned.
	byTask map[taskKey]string
	// order lists ids oldest first, for eviction.
	order []string
}

func newRecordStore(limit int) *recordStore {
	return &recordStore{limit: limit, byID: make(map[string]*record), byTask: make(map[taskKey]string)}
}

func (s *recordStore) add(r *record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byID[r.messageID] = r
	s.byTask[taskKey{r.accountID, r.taskID}] = r.messageID
	s.order = append(s.order, r.messageID)
	for len(s.order) > s.limit {
		oldest := s.byID[s.order[0]]
		s.order = s.order[1:]
		delete(s.byID, oldest.messageID)
		key := taskKey{oldest.accountID, oldest.taskID}
		if s.byTask[key] == oldest.messageID {
			delete(s.byTask, key)
		}
	}
}

// find looks a message up by provider id, or, when there is none, by the
// task's latest message. Another account's messages are invisible, as at a
// real provider.
func (s *recordStore) find(accountID int64, messageID, taskID string) (*record, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if messageID == "" {
		var ok bool
		if messageID, ok = s.byTask[taskKey{accountID, taskID}]; !ok {
			return nil, false
		}
	}
	r, ok := s.byID[messageID]
	if !ok || r.accountID != accountID {
		return nil, false
	}
	return r, true
}
