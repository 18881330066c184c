DROP FUNCTION IF EXISTS financehub.prices_as_of(text[], timestamptz, interval);
DROP FUNCTION IF EXISTS financehub.prices_as_of_join(text[], timestamptz[], interval);
DROP TYPE IF EXISTS financehub.price_as_of;
