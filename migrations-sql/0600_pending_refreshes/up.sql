-- Refresh windows that a refresh started by the project could not run because a concurrent refresh held them
-- (TimescaleDB 2.27+ fails such a refresh with 55P03). Recorded so that nothing depends on luck: the next
-- `financehub-data maintain` (IMaintenanceRunner.RunDueAsync) refreshes them and deletes the rows.
CREATE TABLE IF NOT EXISTS financehub.pending_refreshes (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  view_name text NOT NULL,
  range_start timestamptz,
  range_end timestamptz,
  reason text,
  created_at timestamptz NOT NULL DEFAULT now()
);
