-- The webhook delivery state of an alert becomes a number (AlertDelivery) plus
-- a detail, converted from the free text schedulers used to send:
-- "delivered", "retrying: ...", "partly delivered: ..." and "failed: ...".
-- Any other text is kept as the detail of an unspecified state.
ALTER TABLE alerts ADD COLUMN delivery_state BIGINT NOT NULL DEFAULT 0;
ALTER TABLE alerts ADD COLUMN delivery_detail TEXT NOT NULL DEFAULT '';
UPDATE alerts SET
    delivery_state = CASE
        WHEN delivery = 'delivered' THEN 2
        WHEN delivery LIKE 'retrying%' THEN 1
        WHEN delivery LIKE 'partly delivered%' THEN 3
        WHEN delivery LIKE 'failed%' THEN 4
        ELSE 0
    END,
    delivery_detail = CASE
        WHEN delivery = 'delivered' THEN ''
        WHEN delivery LIKE 'retrying: %' THEN SUBSTR(delivery, 11)
        WHEN delivery LIKE 'retrying%' THEN ''
        WHEN delivery LIKE 'partly delivered: %' THEN SUBSTR(delivery, 19)
        WHEN delivery LIKE 'partly delivered%' THEN ''
        WHEN delivery LIKE 'failed: %' THEN SUBSTR(delivery, 9)
        WHEN delivery LIKE 'failed%' THEN ''
        ELSE delivery
    END;
ALTER TABLE alerts DROP COLUMN delivery;
