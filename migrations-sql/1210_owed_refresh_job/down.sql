-- The job and its procedure (community edition); owed refreshes stay recorded, and maintain still completes them.
DO $fh$
BEGIN
  IF to_regclass('timescaledb_information.jobs') IS NOT NULL THEN
    PERFORM delete_job(job_id) FROM timescaledb_information.jobs WHERE proc_schema = 'financehub' AND proc_name = 'complete_owed_refreshes';
  END IF;
END
$fh$;
DROP PROCEDURE IF EXISTS financehub.complete_owed_refreshes(integer, jsonb);
