-- Bid line items (crmferry/records/types.py, BID_ITEMS): the lines of a bid, keyed by
-- bid number and line number, each linked to its bid (deleting a bid deletes its
-- lines) and optionally to an inventory item (deleting the item keeps the line, with
-- its SKU as text). The line total is kept by the database: quantity × unit price,
-- less the discount, rounded to cents.
CREATE TABLE bid_items (
    id               uuid PRIMARY KEY DEFAULT crmferry_new_id(),
    organization_id  uuid NOT NULL,
    bid_number       text NOT NULL,
    bid_id           uuid NOT NULL REFERENCES bids ON DELETE CASCADE,
    line_number      integer NOT NULL CHECK (line_number >= 1),
    sku              text,
    inventory_id     uuid REFERENCES inventory ON DELETE SET NULL,
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
    UNIQUE (organization_id, bid_number, line_number)
);
-- a bid's lines, read by exports that include them and by amount_from_items
CREATE INDEX bid_items_bid_idx ON bid_items (bid_id, line_number);
CREATE INDEX bid_items_inventory_idx ON bid_items (inventory_id) WHERE inventory_id IS NOT NULL;
SELECT crmferry_make_record_table('bid_items', ARRAY['bid_number', 'sku', 'description']);
