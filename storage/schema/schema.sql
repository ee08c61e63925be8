-- The production shape of the tables blackheart-inference reads and writes
-- (CONTRACT.md §6: engine Flyway V66, V70, V75, V76). Tests and `make demo`
-- apply exactly this file; the service never creates or alters tables.
-- Audit columns are TIMESTAMP without time zone, so sessions run in UTC.

CREATE TABLE model_registry (
    id                     UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    family                 VARCHAR(40),
    purpose                VARCHAR(40) CHECK (purpose IN ('regime', 'positioning', 'flow', 'directional', 'meta_label', 'stacker')),
    symbol                 VARCHAR(20) NOT NULL,
    interval               VARCHAR(10),
    horizon_bars           INT,
    training_intervals     TEXT[],
    serving_interval       VARCHAR(10),
    parent_model_id        UUID REFERENCES model_registry (id),
    feature_set            JSONB NOT NULL,
    hyperparams            JSONB,
    metrics                JSONB,
    bootstrap_metrics      JSONB,
    training_window        TSTZRANGE,
    validation_window      TSTZRANGE,
    holdout_window         TSTZRANGE,
    random_seed            INT NOT NULL,
    code_commit            VARCHAR(64),
    artifact_uri           TEXT,
    artifact_sha256        VARCHAR(64) UNIQUE,
    artifact_size_bytes    BIGINT,
    artifact_synced_to_vps BOOLEAN NOT NULL DEFAULT false,
    artifact_synced_at     TIMESTAMPTZ,
    status                 VARCHAR(40) DEFAULT 'training' CHECK (status IN (
                               'training', 'trained', 'staged', 'shadow', 'cooling_down', 'live', 'retired',
                               'awaiting_operator_review', 'rejected_by_operator')),
    version                INT NOT NULL DEFAULT 1,
    created_time           TIMESTAMP NOT NULL DEFAULT NOW(),
    updated_time           TIMESTAMP NOT NULL DEFAULT NOW(),
    created_by             VARCHAR(150),
    updated_by             VARCHAR(150),
    UNIQUE (purpose, symbol, interval, horizon_bars, version)
);

CREATE TABLE signal_definition (
    signal_id    UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name         VARCHAR(120) UNIQUE NOT NULL,
    model_id     UUID NOT NULL REFERENCES model_registry (id),
    horizon      INTERVAL,
    value_range  JSONB,
    description  TEXT,
    status       VARCHAR(20) DEFAULT 'active' CHECK (status IN ('active', 'shadow', 'retired')),
    created_time TIMESTAMP NOT NULL DEFAULT NOW(),
    updated_time TIMESTAMP NOT NULL DEFAULT NOW(),
    created_by   VARCHAR(150),
    updated_by   VARCHAR(150)
);

CREATE TABLE feature_registry (
    feature_name        VARCHAR(120) NOT NULL,
    version             INT NOT NULL,
    -- The engine's CHECK enumerates its families; this list is the set our
    -- fixtures use and must be widened if the engine's is.
    family              VARCHAR(40) CHECK (family IN ('price', 'volume', 'volatility', 'momentum', 'orderflow',
                            'positioning', 'funding', 'onchain', 'macro', 'sentiment', 'calendar', 'label', 'regime')),
    transformer_ref     VARCHAR(200) NOT NULL,
    inputs              JSONB NOT NULL,
    symbols             TEXT[],
    intervals           TEXT[],
    pit_safe            BOOLEAN NOT NULL,
    ffill_policy        VARCHAR(60),
    max_ffill_age_hours INT,
    label_direction     VARCHAR(10) CHECK (label_direction IS NULL OR label_direction IN ('forward', 'backward')),
    status              VARCHAR(20) DEFAULT 'registered',
    created_time        TIMESTAMP NOT NULL DEFAULT NOW(),
    updated_time        TIMESTAMP NOT NULL DEFAULT NOW(),
    created_by          VARCHAR(150),
    updated_by          VARCHAR(150),
    PRIMARY KEY (feature_name, version)
);

CREATE TABLE feature_values (
    feature_name   VARCHAR(120) NOT NULL,
    version        INT NOT NULL,
    symbol         VARCHAR(20) NOT NULL DEFAULT '',
    interval       VARCHAR(10) NOT NULL DEFAULT '',
    ts             TIMESTAMPTZ NOT NULL,
    value          NUMERIC(28, 10),
    value_text     TEXT,
    compute_run_id UUID NOT NULL,
    created_time   TIMESTAMP NOT NULL DEFAULT NOW(),
    updated_time   TIMESTAMP NOT NULL DEFAULT NOW(),
    created_by     VARCHAR(150),
    updated_by     VARCHAR(150),
    CHECK (value IS NOT NULL OR value_text IS NOT NULL),
    PRIMARY KEY (feature_name, version, symbol, interval, ts),
    FOREIGN KEY (feature_name, version) REFERENCES feature_registry (feature_name, version)
) PARTITION BY RANGE (ts);

CREATE TABLE signal_history (
    signal_id    UUID NOT NULL REFERENCES signal_definition (signal_id),
    symbol       VARCHAR(20) NOT NULL,
    ts           TIMESTAMPTZ NOT NULL,
    value        DOUBLE PRECISION NOT NULL,
    confidence   DOUBLE PRECISION,
    produced_at  TIMESTAMPTZ NOT NULL,
    source       VARCHAR(20) CHECK (source IN ('stream', 'catchup_scan', 'historical_replay')),
    meta         JSONB,
    created_time TIMESTAMP NOT NULL DEFAULT NOW(),
    updated_time TIMESTAMP NOT NULL DEFAULT NOW(),
    created_by   VARCHAR(150),
    updated_by   VARCHAR(150),
    PRIMARY KEY (signal_id, symbol, ts)
) PARTITION BY RANGE (ts);

CREATE INDEX signal_history_symbol_ts_idx ON signal_history (symbol, ts DESC);
CREATE INDEX signal_history_produced_at_idx ON signal_history (produced_at DESC);

-- Monthly partitions 2024-12 .. 2027-12. feature_values also has a DEFAULT
-- partition; signal_history deliberately has none.
DO $$
DECLARE
    m DATE;
BEGIN
    FOR m IN SELECT generate_series(DATE '2024-12-01', DATE '2027-12-01', INTERVAL '1 month')::date LOOP
        EXECUTE format('CREATE TABLE feature_values_%s PARTITION OF feature_values FOR VALUES FROM (%L) TO (%L)',
                       to_char(m, 'YYYY_MM'), m::timestamptz, (m + INTERVAL '1 month')::timestamptz);
        EXECUTE format('CREATE TABLE signal_history_%s PARTITION OF signal_history FOR VALUES FROM (%L) TO (%L)',
                       to_char(m, 'YYYY_MM'), m::timestamptz, (m + INTERVAL '1 month')::timestamptz);
    END LOOP;
END $$;
CREATE TABLE feature_values_default PARTITION OF feature_values DEFAULT;

-- Roles (§6): the service upserts, so it needs blackheart_research;
-- blackheart_trading may only SELECT/INSERT.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'blackheart_research') THEN
        CREATE ROLE blackheart_research NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'blackheart_trading') THEN
        CREATE ROLE blackheart_trading NOLOGIN;
    END IF;
END $$;
GRANT SELECT ON model_registry, signal_definition, feature_registry, feature_values TO blackheart_research, blackheart_trading;
GRANT SELECT, INSERT, UPDATE ON signal_history TO blackheart_research;
GRANT SELECT, INSERT ON signal_history TO blackheart_trading;
