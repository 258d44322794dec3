std = "lua54"
max_line_length = 120
files["spec"] = { std = "+busted" }
exclude_files = { "spec/contract/node_modules", "build", "build-asan", ".luarocks" }
