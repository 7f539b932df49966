package api

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/handybind/handybind/gen/handybind/v1"
	"github.com/handybind/handybind/internal/connection"
	"github.com/handybind/handybind/internal/store"
)

// Schedules of the syncs, in UTC, as the sync rules P1, S1 and D1 fix them (jobs.Schedules fires them).
const (
	productsSchedule     = "0 8,16 * * *"
	salesSchedule        = "*/10 * * * *"
	deletedSalesSchedule = "*/10 * * * *"
)

func timestamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

var connectionStates = map[store.ConnectionState]pb.ConnectionState{
	store.ConnectionDraft:  pb.ConnectionState_CONNECTION_STATE_DRAFT,
	store.ConnectionActive: pb.ConnectionState_CONNECTION_STATE_ACTIVE,
	store.ConnectionPaused: pb.ConnectionState_CONNECTION_STATE_PAUSED,
	store.ConnectionError:  pb.ConnectionState_CONNECTION_STATE_ERROR,
}

// connectionToProto never copies a token: a response only says whether one is stored.
func connectionToProto(c *store.Connection) *pb.Connection {
	out := &pb.Connection{
		Id:          c.ID,
		Tenant:      c.Tenant,
		DisplayName: c.DisplayName,
		Handy: &pb.HandyCredentials{
			BaseUrl:  c.HandyBaseURL,
			TokenSet: !c.HandyToken.IsZero(),
		},
		Bind: &pb.BindCredentials{
			BaseUrl:  c.BindBaseURL,
			UserName: c.BindUserName,
			TokenSet: !c.BindToken.IsZero(),
		},
		Settings: &pb.ConnectionSettings{
			PriceList:     c.Settings.PriceList,
			Currency:      c.Settings.Currency,
			Warehouse:     c.Settings.Warehouse,
			LedgerAccount: c.Settings.LedgerAccount,
			TimeZone:      c.Settings.TimeZone,
		},
		MappingVersion: c.MappingVersion,
		State:          connectionStates[c.State],
		StateReason:    c.StateReason,
		Schedule: &pb.Schedule{
			Products:     productsSchedule,
			Sales:        salesSchedule,
			DeletedSales: deletedSalesSchedule,
		},
		CreateTime: timestamp(c.CreatedAt),
		UpdateTime: timestamp(c.UpdatedAt),
	}
	if !c.Resolved.ResolvedAt.IsZero() {
		out.Resolved = &pb.ResolvedBindIds{
			PriceListId: c.Resolved.PriceListID,
			CurrencyId:  c.Resolved.CurrencyID,
			WarehouseId: c.Resolved.WarehouseID,
			LocationId:  c.Resolved.LocationID,
			AccountId:   c.Resolved.AccountID,
			UserId:      c.Resolved.UserID,
			ResolveTime: timestamp(c.Resolved.ResolvedAt),
		}
	}
	return out
}

var (
	syncKinds = map[store.SyncKind]pb.SyncKind{
		store.SyncProducts:     pb.SyncKind_SYNC_KIND_PRODUCTS,
		store.SyncSales:        pb.SyncKind_SYNC_KIND_SALES,
		store.SyncDeletedSales: pb.SyncKind_SYNC_KIND_DELETED_SALES,
	}
	runTriggers = map[store.RunTrigger]pb.RunTrigger{
		store.TriggerSchedule:   pb.RunTrigger_RUN_TRIGGER_SCHEDULE,
		store.TriggerManual:     pb.RunTrigger_RUN_TRIGGER_MANUAL,
		store.TriggerActivation: pb.RunTrigger_RUN_TRIGGER_ACTIVATION,
	}
	runStates = map[store.RunState]pb.RunState{
		store.RunQueued:      pb.RunState_RUN_STATE_QUEUED,
		store.RunRunning:     pb.RunState_RUN_STATE_RUNNING,
		store.RunSucceeded:   pb.RunState_RUN_STATE_SUCCEEDED,
		store.RunPartial:     pb.RunState_RUN_STATE_PARTIAL,
		store.RunFailed:      pb.RunState_RUN_STATE_FAILED,
		store.RunAbandoned:   pb.RunState_RUN_STATE_ABANDONED,
		store.RunInterrupted: pb.RunState_RUN_STATE_INTERRUPTED,
	}
	entities = map[store.Entity]pb.RunItemEntity{
		store.EntityProduct:  pb.RunItemEntity_RUN_ITEM_ENTITY_PRODUCT,
		store.EntityCustomer: pb.RunItemEntity_RUN_ITEM_ENTITY_CUSTOMER,
		store.EntitySale:     pb.RunItemEntity_RUN_ITEM_ENTITY_SALE,
	}
	outcomes = map[store.Outcome]pb.RunItemOutcome{
		store.OutcomeCreated:   pb.RunItemOutcome_RUN_ITEM_OUTCOME_CREATED,
		store.OutcomeUpdated:   pb.RunItemOutcome_RUN_ITEM_OUTCOME_UPDATED,
		store.OutcomeUnchanged: pb.RunItemOutcome_RUN_ITEM_OUTCOME_UNCHANGED,
		store.OutcomeDeleted:   pb.RunItemOutcome_RUN_ITEM_OUTCOME_DELETED,
		store.OutcomeSkipped:   pb.RunItemOutcome_RUN_ITEM_OUTCOME_SKIPPED,
		store.OutcomeFailed:    pb.RunItemOutcome_RUN_ITEM_OUTCOME_FAILED,
		store.OutcomeWaiting:   pb.RunItemOutcome_RUN_ITEM_OUTCOME_WAITING,
	}
)

// reverse finds the store value for a proto enum; the zero proto value maps to "" (no filter).
func reverse[K comparable, V comparable](m map[K]V, v V) K {
	for k, pv := range m {
		if pv == v {
			return k
		}
	}
	var zero K
	return zero
}

func runToProto(r *store.Run) *pb.Run {
	return &pb.Run{
		Id:              r.ID,
		ConnectionId:    r.ConnectionID,
		Kind:            syncKinds[r.Kind],
		Trigger:         runTriggers[r.Trigger],
		State:           runStates[r.State],
		MappingVersion:  r.MappingVersion,
		MappingChecksum: r.MappingChecksum,
		WindowStart:     timestamp(r.WindowStart),
		WindowEnd:       timestamp(r.WindowEnd),
		Counts: &pb.RunCounts{
			Created:   int32(r.Counts.Created),
			Updated:   int32(r.Counts.Updated),
			Unchanged: int32(r.Counts.Unchanged),
			Deleted:   int32(r.Counts.Deleted),
			Skipped:   int32(r.Counts.Skipped),
			Failed:    int32(r.Counts.Failed),
			Waiting:   int32(r.Counts.Waiting),
		},
		Error:      r.Error,
		CreateTime: timestamp(r.CreatedAt),
		StartTime:  timestamp(r.StartedAt),
		FinishTime: timestamp(r.FinishedAt),
		Processed:  int32(r.Processed),
		Total:      total(r.Total),
	}
}

// total is a run's known total, absent while unknown.
func total(n int) *int32 {
	if n < 0 {
		return nil
	}
	v := int32(n)
	return &v
}

func runItemToProto(i *store.RunItem) *pb.RunItem {
	return &pb.RunItem{
		Id:             i.ID,
		RunId:          i.RunID,
		Entity:         entities[i.Entity],
		HandyId:        i.HandyID,
		BindId:         i.BindID,
		Outcome:        outcomes[i.Outcome],
		Reason:         i.Reason,
		PayloadDigest:  i.PayloadDigest,
		MappingVersion: i.MappingVersion,
		CreateTime:     timestamp(i.CreatedAt),
	}
}

var healthStates = map[connection.HealthState]pb.HealthState{
	connection.HealthOK:      pb.HealthState_HEALTH_STATE_OK,
	connection.HealthLate:    pb.HealthState_HEALTH_STATE_LATE,
	connection.HealthFailing: pb.HealthState_HEALTH_STATE_FAILING,
}

// healthToProto converts an active connection's health; an inactive one has none.
func healthToProto(h connection.Health) *pb.ConnectionHealth {
	if h.State == "" {
		return nil
	}
	out := &pb.ConnectionHealth{State: healthStates[h.State], Since: timestamp(h.Since), Reason: h.Reason}
	for _, kind := range []store.SyncKind{store.SyncProducts, store.SyncSales, store.SyncDeletedSales} {
		if sh, ok := h.Syncs[kind]; ok {
			out.Syncs = append(out.Syncs, &pb.SyncHealth{Kind: syncKinds[kind], LastSuccessTime: timestamp(sh.LastSuccess),
				LastFailureTime: timestamp(sh.LastFailure), LastError: sh.LastError})
		}
	}
	return out
}
