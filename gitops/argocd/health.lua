-- Argo CD health check for aischeduler.io/AssistantSchedule.
-- Reconcile health only: a failed last run (condition LastRunSucceeded=False) does not
-- make the application Degraded; a spec the operator rejects does, and so does a schedule
-- the operator paused (condition Paused=True: too many failures, token budget spent),
-- because it no longer fires until someone looks.
local hs = {}

local function findCondition(conditions, conditionType)
  if conditions == nil then
    return nil
  end
  for _, condition in ipairs(conditions) do
    if condition.type == conditionType then
      return condition
    end
  end
  return nil
end

local invalidReasons = {
  InvalidSpec = true,
  InvalidSchedule = true,
  InvalidTimeZone = true,
}

local generation = obj.metadata.generation
local ready = nil
if obj.status ~= nil then
  ready = findCondition(obj.status.conditions, "Ready")
end

if ready == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to reconcile the schedule"
  return hs
end

-- A condition about an older generation says nothing about the current spec.
if generation ~= nil and ready.observedGeneration ~= generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end

if ready.status == "False" and invalidReasons[ready.reason] then
  hs.status = "Degraded"
  hs.message = ready.reason .. ": " .. (ready.message or "")
  return hs
end

local paused = findCondition(obj.status.conditions, "Paused")
if paused ~= nil and paused.status == "True" then
  hs.status = "Degraded"
  hs.message = "Paused: " .. (paused.reason or "Paused") .. ": " .. (paused.message or "")
  return hs
end

if obj.spec ~= nil and obj.spec.suspend == true then
  hs.status = "Suspended"
  hs.message = "Schedule is suspended"
  return hs
end

if ready.status == "True" then
  hs.status = "Healthy"
  local message = ready.message or "Schedule is active"
  -- A finished one-time run, or a window or run limit reached: done, not broken.
  if obj.status.phase == "Completed" then
    message = "Completed: " .. message
  end
  local lastRun = findCondition(obj.status.conditions, "LastRunSucceeded")
  if lastRun ~= nil and lastRun.status == "False" then
    message = message .. "; last run: " .. (lastRun.reason or "Failed")
  end
  hs.message = message
  return hs
end

hs.status = "Progressing"
hs.message = (ready.reason or "NotReady") .. ": " .. (ready.message or "")
return hs
