-- The W3C traceparent of the write that appended an event (null when traces are not exported), so
-- the engines that apply it continue the write's trace.
ALTER TABLE outbox ADD COLUMN traceparent TEXT;
