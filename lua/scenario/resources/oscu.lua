--- client.oscu: the prices of creative units (get_prices).
-- No hand-written methods: the generated ones (one per operation of the
-- group; docs/reference.md lists them) and the each/pages iterators of its
-- list methods come from resources/base.lua.
local base = require "scenario.resources.base"

return base.class("oscu")
