module github.com/rfkih/blackheart-inference

go 1.26

require (
	github.com/dmitryikh/leaves v0.0.0-20230708180554-25d19a787328
	github.com/nlpodyssey/gopickle v0.2.0
	github.com/stretchr/testify v1.12.1
)

require go.yaml.in/yaml/v3 v3.0.5 // indirect
