package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rfkih/blackheart-inference/api"
)

// contract is the served OpenAPI document, loaded once. Every request the
// end-to-end tests send through testEnv.do and every response they get is
// checked against it (checkContract), so a field added to a response
// without the document fails the suite.
var contract struct {
	once   sync.Once
	doc    *openapi3.T
	router routers.Router
	err    error
}

func loadContract(t testing.TB) (*openapi3.T, routers.Router) {
	t.Helper()
	contract.once.Do(func() {
		raw, err := api.OpenAPIDocument()
		if err != nil {
			contract.err = err
			return
		}
		doc, err := openapi3.NewLoader().LoadFromData(raw)
		if err != nil {
			contract.err = err
			return
		}
		if err := doc.Validate(context.Background()); err != nil {
			contract.err = err
			return
		}
		doc.Servers = openapi3.Servers{{URL: "/"}} // match the test server's host
		contract.doc = doc
		contract.router, contract.err = gorillamux.NewRouter(doc)
	})
	require.NoError(t, contract.err, "api/openapi.yaml")
	return contract.doc, contract.router
}

// errTokenMissing is the contract's view of a request without a token.
var errTokenMissing = errors.New("X-Inference-Token is missing")

// checkContract validates one exchange. A request the document calls
// invalid must be refused with a 4xx; every response must match the
// document, unknown paths included (as the Error envelope).
func checkContract(t testing.TB, req *http.Request, reqBody []byte, status int, header http.Header, respBody []byte) {
	t.Helper()
	doc, router := loadContract(t)
	route, params, err := router.FindRoute(req)
	if err != nil { // unknown path or method: the envelope, 404 or 405
		assert.Contains(t, []int{http.StatusNotFound, http.StatusMethodNotAllowed}, status, "%s %s", req.Method, req.URL.Path)
		var body any
		require.NoError(t, json.Unmarshal(respBody, &body))
		assert.NoError(t, doc.Components.Schemas["Error"].Value.VisitJSON(body, openapi3.EnableJSONSchema2020()),
			"%s %s: the envelope", req.Method, req.URL.Path)
		return
	}
	objectQuery := objectQueryParam(route)
	in := &openapi3filter.RequestValidationInput{
		Request: cloneRequest(req, reqBody), PathParams: params, Route: route,
		Options: &openapi3filter.Options{ExcludeRequestQueryParams: objectQuery != nil,
			AuthenticationFunc: func(_ context.Context, a *openapi3filter.AuthenticationInput) error {
				if a.RequestValidationInput.Request.Header.Get("X-Inference-Token") == "" {
					return errTokenMissing
				}
				return nil
			}},
	}
	reqErr := openapi3filter.ValidateRequest(context.Background(), in)
	if reqErr == nil && objectQuery != nil {
		reqErr = checkObjectQuery(objectQuery, req)
	}
	if reqErr != nil {
		assert.True(t, status >= 400 && status < 500, "the contract refuses %s %s (%v), the service answered %d",
			req.Method, req.URL.Path, reqErr, status)
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: status, Header: header,
		Body: io.NopCloser(bytes.NewReader(respBody)), Options: &openapi3filter.Options{IncludeResponseStatus: true}}
	assert.NoError(t, openapi3filter.ValidateResponse(context.Background(), out), "%s %s → %d %s", req.Method, req.URL.Path, status, respBody)
}

func cloneRequest(req *http.Request, body []byte) *http.Request {
	c := req.Clone(context.Background())
	c.Body = io.NopCloser(bytes.NewReader(body))
	return c
}

// objectQueryParam is the route's form-exploded object query parameter
// (GET /monitoring/drift's two forms), or nil. kin-openapi cannot decode
// one whose schema is a oneOf (it keeps the last alternative's properties),
// so checkObjectQuery validates the query as the object it is.
func objectQueryParam(route *routers.Route) *openapi3.Schema {
	for _, p := range route.Operation.Parameters {
		if p.Value.In == "query" && p.Value.Schema != nil && len(p.Value.Schema.Value.OneOf) > 0 {
			return p.Value.Schema.Value
		}
	}
	return nil
}

// checkObjectQuery validates the query string as one object against the
// parameter's schema: integer properties are read as integers, a key given
// twice is a list (which no property allows).
func checkObjectQuery(schema *openapi3.Schema, req *http.Request) error {
	integer := map[string]bool{}
	for _, alt := range schema.OneOf {
		for name, prop := range alt.Value.Properties {
			if prop.Value.Type.Is("integer") {
				integer[name] = true
			}
		}
	}
	obj := map[string]any{}
	for k, vs := range req.URL.Query() {
		switch {
		case len(vs) > 1:
			list := make([]any, len(vs))
			for i, v := range vs {
				list[i] = v
			}
			obj[k] = list
		case integer[k]:
			if n, err := strconv.ParseInt(vs[0], 10, 64); err == nil {
				obj[k] = n
				continue
			}
			obj[k] = vs[0]
		default:
			obj[k] = vs[0]
		}
	}
	return schema.VisitJSON(obj, openapi3.EnableJSONSchema2020())
}
