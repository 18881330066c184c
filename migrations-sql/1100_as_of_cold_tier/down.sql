-- Back to 0800's functions (the migration runs 0800's up.sql after this), whose rows have thirteen columns.
DROP FUNCTION IF EXISTS financehub.prices_as_of(text[], timestamptz, interval);
DROP FUNCTION IF EXISTS financehub.prices_as_of_join(text[], timestamptz[], interval);
ALTER TYPE financehub.price_as_of DROP ATTRIBUTE IF EXISTS archived_from, DROP ATTRIBUTE IF EXISTS archived_to, DROP ATTRIBUTE IF EXISTS archive_ids;
DROP FUNCTION IF EXISTS financehub.cold_ranges(text, text, timestamptz[], timestamptz[]);
