--- client.generate: txt2img, img2img, upscale, custom(modelId, ...) and the
-- other generations; each answers a Job (a dry run: the cost table).
-- No hand-written methods: the generated ones (one per operation of the
-- group; docs/reference.md lists them) and the each/pages iterators of its
-- list methods come from resources/base.lua.
local base = require "scenario.resources.base"

return base.class("generate")
