-- imi registry, version 12: a claim change writes one event, not two.
--
-- Claiming, taking over and releasing append a line to agent_activities (type
-- claimed or released, with the tenure's epoch in its metadata) in the transaction
-- that changes the claim. That line is part of the claim change, whose event is the
-- claims row's own (imi.claim.claimed, .stolen, .released): it no longer also logs
-- imi.activity.logged, so every change of registry state writes exactly one event
-- (SPEC §7.2). Any other activity, including a claimed or released line without an
-- epoch (logged by hand), still logs its event. The WHEN clause is evaluated as the
-- row is inserted, so a claim's line does not even queue the deferred trigger.

DROP TRIGGER agent_activities_events ON agent_activities;
CREATE CONSTRAINT TRIGGER agent_activities_events AFTER INSERT ON agent_activities
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
  WHEN (NOT (NEW.activity_type IN ('claimed', 'released') AND NEW.metadata ? 'epoch'))
  EXECUTE FUNCTION imi_events_of_activities();
