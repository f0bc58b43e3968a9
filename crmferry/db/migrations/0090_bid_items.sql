-- Bid line items (crmferry/records/types.py, BID_ITEMS): the lines of a bid, keyed by
-- bid number and line number, each linked to its bid (deleting a bid deletes its
-- lines) and optionally to an inventory item (deleting the item keeps the line, with
-- its SKU as text). The line total is kept by the database: quantity × unit price,
-- less the discount, rounded to cents.
CREATE TABLE bid_items (
    id               uuid NOT NULL DEFAULT crmferry_new_id(),
    organization_id  uuid NOT NULL,
    bid_number       text NOT NULL,
    bid_id           uuid NOT NULL,
    line_number      integer NOT NULL CHECK (line_number >= 1),
    sku              text,
    inventory_id     uuid,
    description      text,
    quantity         numeric(12, 2) NOT NULL DEFAULT 1,
    unit_price       numeric(12, 2),
    discount_percent numeric(5, 2) CHECK (discount_percent BETWEEN 0 AND 100),
    line_total       numeric(14, 2) GENERATED ALWAYS AS (
                         round(quantity * unit_price * (100 - coalesce(discount_percent, 0))
                               / 100, 2)) STORED,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    import_job_id    uuid,
    -- keyed by organization like every tenant table (migration 0066, docs/scaling.md)
    PRIMARY KEY (organization_id, id),
    UNIQUE (organization_id, bid_number, line_number),
    FOREIGN KEY (organization_id, bid_id) REFERENCES bids (organization_id, id)
        ON DELETE CASCADE,
    FOREIGN KEY (organization_id, inventory_id) REFERENCES inventory (organization_id, id)
        ON DELETE SET NULL (inventory_id)
);
-- a bid's lines, read by exports that include them and by amount_from_items
CREATE INDEX bid_items_bid_idx ON bid_items (bid_id, line_number);
CREATE INDEX bid_items_inventory_idx ON bid_items (inventory_id) WHERE inventory_id IS NOT NULL;
SELECT crmferry_make_record_table('bid_items', ARRAY['bid_number', 'sku', 'description']);
