-- Argo CD resource actions offered on an AssistantSchedule. "run-now" works while the
-- schedule is suspended too (that is how an admin tests it before enabling it).
local actions = {}
actions["run-now"] = {["disabled"] = false}
return actions
