-- LÖVE 11 configuration of the scenario-lua example game (see main.lua).
-- luacheck: std luajit, globals love
function love.conf(t)
  t.identity = "scenario-lua-example"   -- save directory: downloads go there
  t.version = "11.4"
  t.window.title = "scenario-lua in LÖVE"
  t.window.width, t.window.height = 800, 600
  t.window.vsync = 0                    -- uncapped frames: the SDK must never hold one up
  -- no sound device where this runs headless (xvfb); the example has no sound
  t.modules.audio = false
  t.modules.sound = false
  t.modules.joystick = false
  t.modules.physics = false
  t.modules.video = false
  t.modules.touch = false
end
