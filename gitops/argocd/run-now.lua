-- Argo CD resource action "run-now": starts one run immediately by setting the
-- aischeduler.io/run-now annotation to the current time (a new value triggers once).
-- Argo CD gives resource scripts no global os: its safe os library (only date and time)
-- must be loaded with require, as Argo CD's own built-in actions do.
local os = require("os")
if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
obj.metadata.annotations["aischeduler.io/run-now"] = os.date("!%Y-%m-%dT%H:%M:%SZ")
return obj
