module envoywasm.local/pause

go 1.21
