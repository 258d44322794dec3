--- client.models, with client.models.presets, .training_images, .examples,
-- .description, .images, .scores and .tags.
-- No hand-written methods: the generated ones (one per operation of the
-- group; docs/reference.md lists them) and the each/pages iterators of its
-- list methods come from resources/base.lua.
local base = require "scenario.resources.base"

return base.class("models")
